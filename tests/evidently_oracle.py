"""Evidently 0.7, imported once for the tests that use it as the oracle of drift scores.

Its import warns (numpy.core and litestar deprecations); those two warnings are ignored here only."""

from __future__ import annotations

import warnings
from functools import cache
from types import SimpleNamespace


@cache
def evidently() -> SimpleNamespace:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="numpy.core is deprecated", category=DeprecationWarning)
        warnings.filterwarnings(
            "ignore", message=r".*deprecated.*litestar|.*litestar.*deprecated", category=DeprecationWarning
        )
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset
    return SimpleNamespace(
        DataDefinition=DataDefinition, Dataset=Dataset, Report=Report, Preset=DataDriftPreset
    )
