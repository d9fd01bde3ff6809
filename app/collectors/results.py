"""What a collection gives: good and total events, one reading (a value, or a good ratio), or a
`CollectionError` (a gap, unless the SLO counts failed collections as bad)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from app.core.windows import parse_window


@dataclass(frozen=True, slots=True)
class Collected:
    """The events one collection saw: `good` of `total` were good."""

    good: int
    total: int

    def __post_init__(self) -> None:
        for name, value in (("good", self.good), ("total", self.total)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
        if not 0 <= self.good <= self.total:
            raise ValueError(f"expected 0 <= good <= total, got good={self.good}, total={self.total}")


@dataclass(frozen=True, slots=True)
class Reading:
    """One number a collection measured: a value SLI's value (an age, a score), or the good ratio
    of the collection window for an event SLI whose source gives only the ratio."""

    value: float
    # Anything else the collection found (per-column drift scores, per-version readings), written
    # in the same transaction as the reading and the run's outcome.
    store: Callable[[Session], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise TypeError(f"a reading must be a number, got {type(self.value).__name__}")
        if not math.isfinite(self.value):
            raise ValueError(f"a reading must be finite, got {self.value}")


Outcome = Collected | Reading


class CollectionError(Exception):
    """A collection that produced no data. Its message is safe to show and store: it never
    contains a secret (connection URLs, passwords)."""


def timeout_seconds(value: object, *, default: float) -> float:
    """A timeout from a definition: a duration string ("5s", "2m", and also "200ms"), a number of
    seconds, or None for `default`. Raises CollectionError on anything else."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise CollectionError(f"invalid timeout {value!r}")
    if isinstance(value, int | float | Decimal):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("ms") and text[:-2].isdigit():
            seconds = int(text[:-2]) / 1000
        else:
            try:
                seconds = parse_window(text).total_seconds()
            except ValueError as exc:
                raise CollectionError(f"invalid timeout: {exc}") from None
    else:
        raise CollectionError(f"invalid timeout of type {type(value).__name__}")
    if not (seconds > 0 and math.isfinite(seconds)):
        raise CollectionError(f"invalid timeout {value!r}: must be positive")
    return seconds
