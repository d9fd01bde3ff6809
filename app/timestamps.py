"""Times accepted from callers: timezone-aware, stored in UTC, between 1970 and 9000.

Far outside that range a time cannot even be converted to UTC (year 1 at +14:00 is in year 0), and
it means a broken clock or a typo rather than an event: it is refused as the caller's input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def supported_utc(value: datetime) -> datetime:
    """`value` in UTC; ValueError when it is outside 1970-01-01 to 9000-01-01."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError("the time must be between 1970-01-01 and 9000-01-01 (UTC)")
    return utc


Timestamp = Annotated[AwareDatetime, AfterValidator(supported_utc)]
