"""Domain errors that services raise; the API maps them to 4xx answers naming the field at fault."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Every separate cause, when there are several (a refused promotion lists each unmet check).
        self.reasons = tuple(reasons)


class NotFoundError(DomainError):
    status_code = 404


class ConflictError(DomainError):
    status_code = 409


class InvalidInputError(DomainError):
    status_code = 422
