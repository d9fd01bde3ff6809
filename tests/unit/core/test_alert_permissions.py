"""Phase and SLO switches on severities, and the count-based rule for rare events."""

from __future__ import annotations

import pytest

from app.core.burn_rate_policy import Severity, decide_count_based, permitted_severity


@pytest.mark.parametrize(
    ("decided", "allow_page", "allow_ticket", "expected"),
    [
        (Severity.PAGE, True, True, Severity.PAGE),
        (Severity.PAGE, False, True, Severity.TICKET),
        (Severity.PAGE, False, False, None),
        (Severity.TICKET, True, False, None),
        (Severity.TICKET, False, True, Severity.TICKET),
        (None, True, True, None),
    ],
)
def test_permitted_severity(
    decided: Severity | None, allow_page: bool, allow_ticket: bool, expected: Severity | None
) -> None:
    assert permitted_severity(decided, allow_page=allow_page, allow_ticket=allow_ticket) is expected


def test_count_based_rule_fires_only_above_the_allowed_failures() -> None:
    # "No more than 1 failed retrain per 4 weeks": 4 weekly retrains, 1 failed is fine, 2 is not.
    assert decide_count_based(1, max_bad_events=1) is None
    assert decide_count_based(2, max_bad_events=1) is Severity.TICKET
    assert decide_count_based(0, max_bad_events=0) is None
