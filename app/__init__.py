"""mlslo: SLI/SLO reliability monitoring for ML systems."""

__version__ = "0.1.0"
