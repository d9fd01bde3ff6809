"""Collectors: pull good/total counts from where the data already is (HTTP probes, SQL queries).
Each collect function performs one collection and returns a `Collected`, or raises
`CollectionError` (a gap: no data, neither good nor bad)."""

from app.collectors.results import Collected, CollectionError

__all__ = ["Collected", "CollectionError"]
