"""Block Kit messages for breach notifications, kept within Slack's limits by truncation.

A message is five blocks, always in this order (tests and the end-to-end run index them):

0. header: ``<SEVERITY> · <system> · <slo> · <STATE>``; long names are shortened, the severity
   and the state are always kept;
1. section: one sentence an on-call can act on (what burns, how fast against the threshold,
   the budget left or the budget the episode consumed);
2. section fields: objective and window, burn rates, budget, time to exhaustion, SLI, model
   version, owner (with channel), phase;
3. context: breach number, opening time, acknowledgement, the dedup key, and any button left out;
4. actions: Dashboard, Runbook (when set), Write a postmortem, Breach (no block if no URL is usable).

Nothing is ever rejected for being long: every text is cut to its limit with "…". Lengths are
counted in UTF-16 code units, which is never less than the number of characters, so the limits
hold however Slack counts. User-supplied text in mrkdwn has ``&``, ``<`` and ``>`` escaped (so a
name can neither break the markup nor mention ``@channel``), and a cut never splits an escape.
A button whose URL Slack would refuse (over 3000 characters, or not an http(s) URL) is dropped,
and the context line says so, rather than making Slack refuse the whole message.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.windows import window_label
from app.notifications.messages import BreachAlert, NotificationEvent

# Slack's documented limits: header text 150, section text 3000, field text 2000, 10 fields, 50 blocks;
# context: 10 elements; button text 75, button URL 3000; actions: at most 5 elements used here.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTONS = 5
BUTTON_TEXT_LIMIT = 75
URL_LIMIT = 3000
# Slack cuts the top-level text at 40,000 characters; a notification should be far shorter.
FALLBACK_TEXT_LIMIT = 3000
# How much of a system or SLO name the sentences quote; the header shortens them further.
NAME_LIMIT = 150
SEVERITY_LIMIT = 20

STATE_FIRING = "FIRING"
STATE_ESCALATED = "ESCALATED"
STATE_REPEATED = "STILL FIRING"
STATE_ACKNOWLEDGED = "ACKNOWLEDGED"
STATE_RESOLVED = "RESOLVED"
STATE_DATA_MISSING = "SLI DATA MISSING"

# A single episode consuming more than this share of the budget requires a postmortem
# (the SRE Workbook's example error budget policy).
POSTMORTEM_BUDGET_SHARE = 0.2

_STATES = {
    NotificationEvent.FIRED: STATE_FIRING,
    NotificationEvent.ESCALATED: STATE_ESCALATED,
    NotificationEvent.REPEATED: STATE_REPEATED,
    NotificationEvent.ACKNOWLEDGED: STATE_ACKNOWLEDGED,
    NotificationEvent.RESOLVED: STATE_RESOLVED,
}


def truncate(text: str, limit: int) -> str:
    """Cut to `limit` characters with a trailing "…" (shared with the PagerDuty summary)."""
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


def slack_length(text: str) -> int:
    """Length in UTF-16 code units: a character outside the BMP (most emoji) counts twice."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 code units, ending in "…" when cut."""
    if slack_length(text) <= limit:
        return text
    budget, used, end = limit - 1, 0, 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > budget:
            break
        used += width
        end += 1
    return text[:end] + "…"


def clip_mrkdwn(text: str, limit: int) -> str:
    """Like `clip`, for escaped mrkdwn: a cut never leaves half of `&amp;`, `&lt;` or `&gt;`."""
    if slack_length(text) <= limit:
        return text
    cut = clip(text, limit)[:-1]
    amp = cut.rfind("&")
    if amp != -1 and amp >= len(cut) - 4 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: the only three characters it requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str) -> str:
    """Control characters, line breaks and lone surrogates become spaces (a header is one line)."""
    return "".join(" " if unicodedata.category(c) in {"Cc", "Cs", "Zl", "Zp"} else c for c in text)


def state_of(alert: BreachAlert) -> str:
    if alert.event is NotificationEvent.RESOLVED:
        return STATE_RESOLVED
    if alert.data_missing_since is not None:
        return STATE_DATA_MISSING
    return _STATES[alert.event]


def header_text(alert: BreachAlert) -> str:
    """`<SEVERITY> · <system> · <slo> · <STATE>` within 150: the names give way, not the state."""
    severity = clip(one_line(alert.severity.upper()), SEVERITY_LIMIT)
    prefix, separator, suffix = f"{severity} · ", " · ", f" · {state_of(alert)}"
    room = HEADER_LIMIT - slack_length(prefix + separator + suffix)
    system, slo = _fit_pair(one_line(alert.system), one_line(alert.slo), room)
    return clip(f"{prefix}{system}{separator}{slo}{suffix}", HEADER_LIMIT)


def _fit_pair(first: str, second: str, room: int) -> tuple[str, str]:
    """Shorten two names to share `room`: a short one is kept whole, two long ones split it."""
    first_length, second_length = slack_length(first), slack_length(second)
    if first_length + second_length <= room:
        return first, second
    half = room // 2
    if first_length <= half:
        return first, clip(second, room - first_length)
    if second_length <= half:
        return clip(first, room - second_length), second
    return clip(first, half), clip(second, room - half)


def _utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _name(text: str) -> str:
    return escape(clip(one_line(text), NAME_LIMIT))


def _objective(alert: BreachAlert) -> str:
    return f"{alert.objective * 100:.4f}".rstrip("0").rstrip(".") + f"% over {window_label(alert.period)}"


def _owner(alert: BreachAlert) -> str:
    owner = alert.owner or "no owner set"
    return f"{owner} ({alert.owner_channel})" if alert.owner_channel else owner


def _model_version(alert: BreachAlert) -> str:
    if alert.sli_family != "ml":
        return "n/a"
    return alert.model_version or "unknown"


def _time_to_exhaustion(alert: BreachAlert) -> str:
    if alert.error_budget_remaining <= 0:
        return "exhausted"
    return duration(alert.time_to_exhaustion)


def _has_burn_rates(alert: BreachAlert) -> bool:
    return alert.long_burn_rate is not None or alert.short_burn_rate is not None


def _burn_phrase(alert: BreachAlert) -> str:
    """How fast the budget burns against the threshold, or, for a count-based rule, that it broke."""
    if not _has_burn_rates(alert):
        return f"has breached its objective ({_objective(alert)})"
    rates = []
    for value, window in (
        (alert.long_burn_rate, alert.long_window),
        (alert.short_burn_rate, alert.short_window),
    ):
        rates.append(rate(value) if window is None else f"{rate(value)} over {window_label(window)}")
    return (
        f"is burning its error budget at {' and '.join(rates)} (threshold {rate(alert.burn_rate_threshold)})"
    )


def _burn_field(alert: BreachAlert) -> tuple[str, str]:
    label = "Burn rate"
    if alert.long_window is not None and alert.short_window is not None:
        label = f"Burn rate {window_label(alert.long_window)} / {window_label(alert.short_window)}"
    if not _has_burn_rates(alert):
        return label, "n/a (count-based rule)"
    return (
        label,
        f"{rate(alert.long_burn_rate)} / {rate(alert.short_burn_rate)} "
        f"(threshold {rate(alert.burn_rate_threshold)})",
    )


def _consumed_phrase(alert: BreachAlert) -> str:
    if alert.budget_consumed_share is None:
        return "the budget it consumed is not known"
    return f"the episode consumed {percent(alert.budget_consumed_share, 1)} of the error budget"


def _sentences(alert: BreachAlert, subject: str) -> tuple[str, str]:
    """The core statement for this alert, and the notes that follow it (repeat, escalation, policy)."""
    budget_left = percent(alert.error_budget_remaining, 1)
    if alert.event is NotificationEvent.RESOLVED:
        core = (
            f"{subject} recovered after "
            f"{duration((alert.resolved_at or alert.opened_at) - alert.opened_at)}: "
            f"{_consumed_phrase(alert)} (peak burn {rate(alert.peak_burn_rate)}); {budget_left} remains."
        )
        extra = ""
        if (alert.budget_consumed_share or 0.0) > POSTMORTEM_BUDGET_SHARE:
            extra = (
                f" It consumed over {POSTMORTEM_BUDGET_SHARE:.0%} of the budget: "
                "the error budget policy requires a postmortem."
            )
        return core, extra
    if alert.data_missing_since is not None:
        core = (
            f"{subject} has had no SLI data since {_utc(alert.data_missing_since)}: its collector is "
            f"failing, so the SLO can neither burn nor recover; {budget_left} of the budget left."
        )
        extra = " See its collector runs."
    else:
        core = (
            f"{subject} {_burn_phrase(alert)}; {budget_left} of the budget left, "
            f"exhausted in {_time_to_exhaustion(alert)} at this rate."
        )
        extra = ""
    if alert.event is NotificationEvent.REPEATED:
        extra += f" Firing since {_utc(alert.opened_at)} and nobody has acknowledged it."
    elif alert.event is NotificationEvent.ACKNOWLEDGED:
        extra += (
            f" Acknowledged by {alert.acknowledged_by or 'someone'}: no more repeats; "
            "the resolved notice will follow."
        )
    elif alert.event is NotificationEvent.ESCALATED:
        extra += f" Escalated to {alert.severity} (opened {_utc(alert.opened_at)})."
    return core, extra


def _icon(alert: BreachAlert) -> str:
    if alert.event is NotificationEvent.RESOLVED:
        return ":white_check_mark:"
    if alert.data_missing_since is not None:
        return ":grey_question:"
    if alert.event is NotificationEvent.REPEATED:
        return ":rotating_light:"
    if alert.event is NotificationEvent.ACKNOWLEDGED:
        return ":eyes:"
    return ":red_circle:" if alert.severity == "page" else ":large_orange_circle:"


def _fields(alert: BreachAlert) -> list[tuple[str, str]]:
    common_tail = [
        ("SLI now", percent(alert.sli, 3)),
        ("Model version", _model_version(alert)),
        ("Owner", _owner(alert)),
        ("Phase", alert.phase),
    ]
    if alert.event is NotificationEvent.RESOLVED:
        return [
            ("Objective", _objective(alert)),
            ("Budget consumed by this episode", percent(alert.budget_consumed_share, 1)),
            ("Peak burn rate", rate(alert.peak_burn_rate)),
            ("Duration", duration((alert.resolved_at or alert.opened_at) - alert.opened_at)),
            ("Budget remaining", percent(alert.error_budget_remaining, 1)),
            *common_tail,
        ]
    if alert.data_missing_since is not None:
        fields = [
            ("Objective", _objective(alert)),
            ("No data since", _utc(alert.data_missing_since)),
            ("Budget remaining", percent(alert.error_budget_remaining, 1)),
            *common_tail,
        ]
    else:
        fields = [
            ("Objective", _objective(alert)),
            _burn_field(alert),
            ("Budget remaining", percent(alert.error_budget_remaining, 1)),
            ("Time to exhaustion", _time_to_exhaustion(alert)),
            *common_tail,
        ]
    if alert.event is NotificationEvent.REPEATED:
        fields.append(("Firing since", f"{_utc(alert.opened_at)}, not acknowledged"))
    return fields


def _url_problem(url: str) -> str | None:
    """Why Slack would refuse this button URL, or None when it is fine."""
    if slack_length(url) > URL_LIMIT:
        return f"its URL is {slack_length(url):,} characters, over Slack's {URL_LIMIT:,}"
    if not url.startswith(("http://", "https://")):
        return "its URL is not an http(s) link"
    if any(c.isspace() or unicodedata.category(c) in {"Cc", "Cs"} for c in url):
        return "its URL contains spaces or control characters"
    return None


def _buttons(alert: BreachAlert) -> tuple[list[dict[str, Any]], list[str]]:
    """The buttons Slack will accept, and a note for each one left out."""
    candidates = [
        ("Dashboard", alert.dashboard_url, "dashboard"),
        ("Runbook", alert.runbook_url, "runbook"),
        ("Write a postmortem", alert.postmortem_url, "postmortem"),
        ("Breach", alert.breach_url, "breach"),
    ]
    buttons: list[dict[str, Any]] = []
    notes: list[str] = []
    for label, url, action_id in candidates:
        if not url:
            continue
        problem = _url_problem(url)
        if problem is not None:
            notes.append(f"{label} button left out: {problem}")
            continue
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": clip(label, BUTTON_TEXT_LIMIT)},
                "url": url,
                "action_id": action_id,
            }
        )
    return buttons[:MAX_BUTTONS], notes


def _context(alert: BreachAlert, notes: list[str]) -> list[dict[str, Any]]:
    episode = f"Breach #{alert.breach_id} · opened {_utc(alert.opened_at)}"
    if alert.event is NotificationEvent.RESOLVED and alert.resolved_at is not None:
        episode += f" · resolved {_utc(alert.resolved_at)}"
    if alert.acknowledged_by:
        episode += f" · acknowledged by {escape(one_line(alert.acknowledged_by))}"
    texts = [episode]
    if alert.dedup_key:
        texts.append(f"Dedup key: `{escape(one_line(alert.dedup_key))}`")
    texts.extend(escape(note) for note in notes)
    return [
        {"type": "mrkdwn", "text": clip_mrkdwn(text, SECTION_LIMIT)} for text in texts[:MAX_CONTEXT_ELEMENTS]
    ]


def build_slack_message(alert: BreachAlert) -> dict[str, Any]:
    state = state_of(alert)
    subject = f"{_name(alert.system)}/{_name(alert.slo)}"
    core, extra = _sentences(alert, subject)
    severity = escape(clip(one_line(alert.severity.upper()), SEVERITY_LIMIT))
    fallback = f"{severity} {state}: {core}{extra}"
    section = f"{_icon(alert)} *{severity} {state}:* {core}{extra}"
    buttons, notes = _buttons(alert)

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text(alert), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip_mrkdwn(section, SECTION_LIMIT)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": clip_mrkdwn(f"*{name}*\n{escape(one_line(value))}", FIELD_LIMIT)}
                for name, value in _fields(alert)[:MAX_FIELDS]
            ],
        },
        {"type": "context", "elements": _context(alert, notes)},
    ]
    if buttons:  # Slack refuses an empty actions block.
        blocks.append({"type": "actions", "elements": buttons})
    message: dict[str, Any] = {
        "text": clip_mrkdwn(fallback, FALLBACK_TEXT_LIMIT),
        "blocks": blocks[:MAX_BLOCKS],
    }
    if alert.owner_channel:
        # Legacy incoming webhooks post to this channel; app webhooks ignore it.
        message["channel"] = alert.owner_channel
    return message
