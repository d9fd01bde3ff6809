"""Block Kit messages for breach notifications, kept within Slack's limits by truncation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.core.windows import window_label
from app.notifications.messages import BreachAlert, NotificationEvent

# Slack's documented limits: header text 150, section text 3000, field text 2000, 10 fields, 50 blocks.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
FALLBACK_TEXT_LIMIT = 3000

_ICONS = {
    (NotificationEvent.FIRED, "page"): ":red_circle:",
    (NotificationEvent.FIRED, "ticket"): ":large_orange_circle:",
    (NotificationEvent.ESCALATED, "page"): ":red_circle:",
}


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def percent(ratio: float | None, digits: int = 2) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.{digits}f}%"


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}x"


def duration(value: timedelta | None) -> str:
    if value is None:
        return "not burning"
    minutes = int(value.total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    if not days:
        parts.append(f"{minutes}m")
    return " ".join(parts)


def build_slack_message(alert: BreachAlert) -> dict[str, Any]:
    resolved = alert.event is NotificationEvent.RESOLVED
    state = (
        "RESOLVED" if resolved else ("ESCALATED" if alert.event is NotificationEvent.ESCALATED else "FIRING")
    )
    icon = ":white_check_mark:" if resolved else _ICONS.get((alert.event, alert.severity), ":warning:")
    title = f"{alert.severity.upper()} · {alert.system} · {alert.slo} · {state}"
    objective = (
        f"{alert.objective * 100:.4f}".rstrip("0").rstrip(".") + f"% over {window_label(alert.period)}"
    )
    owner = alert.owner or "no owner set"
    if alert.owner_channel:
        owner = f"{owner} ({alert.owner_channel})"

    if alert.data_missing_since is not None and not resolved:
        fallback = (
            f":grey_question: {alert.severity.upper()}: {alert.system}/{alert.slo} has had no SLI data since "
            f"{alert.data_missing_since:%Y-%m-%d %H:%M} UTC: its collector is failing, so the SLO can neither "
            "burn nor recover. See its collector runs."
        )
        fields = [
            ("Objective", objective),
            ("No data since", f"{alert.data_missing_since:%Y-%m-%d %H:%M} UTC"),
            ("Budget remaining", percent(alert.error_budget_remaining, 1)),
            ("Owner", owner),
            ("Phase", alert.phase),
        ]
        title = f"{alert.severity.upper()} · {alert.system} · {alert.slo} · SLI DATA MISSING"
    elif resolved:
        fallback = (
            f"{icon} RESOLVED {alert.severity} alert for {alert.system}/{alert.slo}: the breach consumed "
            f"{percent(alert.budget_consumed_share, 1)} of the error budget; "
            f"{percent(alert.error_budget_remaining, 1)} remains."
        )
        fields = [
            ("Objective", objective),
            ("Budget consumed by this breach", percent(alert.budget_consumed_share, 1)),
            ("Budget remaining", percent(alert.error_budget_remaining, 1)),
            ("Peak burn rate", rate(alert.peak_burn_rate)),
            ("Duration", duration((alert.resolved_at or alert.opened_at) - alert.opened_at)),
            ("SLI now", percent(alert.sli, 3)),
            ("Owner", owner),
            ("Phase", alert.phase),
        ]
    else:
        burn_label = "Burn rate"
        if alert.long_window is not None and alert.short_window is not None:
            burn_label = f"Burn rate {window_label(alert.long_window)} / {window_label(alert.short_window)}"
        fallback = (
            f"{icon} {alert.severity.upper()}: {alert.system}/{alert.slo} is burning its error budget at "
            f"{rate(alert.long_burn_rate)} (threshold {rate(alert.burn_rate_threshold)}); "
            f"{percent(alert.error_budget_remaining, 1)} of the budget left, "
            f"exhausted in {duration(alert.time_to_exhaustion)} at this rate."
        )
        fields = [
            ("Objective", objective),
            (
                burn_label,
                f"{rate(alert.long_burn_rate)} / {rate(alert.short_burn_rate)} "
                f"(threshold {rate(alert.burn_rate_threshold)})",
            ),
            ("Budget remaining", percent(alert.error_budget_remaining, 1)),
            ("Time to exhaustion", duration(alert.time_to_exhaustion)),
            ("SLI now", percent(alert.sli, 3)),
            ("Owner", owner),
            ("Phase", alert.phase),
        ]

    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"{title}", HEADER_LIMIT), "emoji": True},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(fallback, SECTION_LIMIT)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": truncate(f"*{name}*\n{value}", FIELD_LIMIT)}
                for name, value in fields[:MAX_FIELDS]
            ],
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": truncate(
                        f"Breach #{alert.breach_id} opened {alert.opened_at:%Y-%m-%d %H:%M} UTC",
                        SECTION_LIMIT,
                    ),
                }
            ],
        },
        {
            "type": "actions",
            "elements": [
                _button("Dashboard", alert.dashboard_url, "dashboard"),
                _button("Breach", alert.breach_url, "breach"),
                _button("Write a postmortem", alert.postmortem_url, "postmortem"),
            ],
        },
    ]
    return {"text": truncate(fallback, FALLBACK_TEXT_LIMIT), "blocks": blocks[:MAX_BLOCKS]}


def _button(label: str, url: str, action_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "url": url,
        "action_id": action_id,
    }
