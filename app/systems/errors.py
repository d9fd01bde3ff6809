"""The refusal of a move into a gated phase, carrying every unmet requirement."""

from __future__ import annotations

from collections.abc import Sequence

from app.errors import ConflictError


class PhaseGateRefusedError(ConflictError):
    def __init__(self, message: str, *, reasons: Sequence[str]) -> None:
        super().__init__(message, field="phase", reasons=reasons)
