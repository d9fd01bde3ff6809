"""ML SLIs: predictions and late labels, quality, drift, robustness, retrain stability, readiness."""
