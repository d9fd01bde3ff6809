"""Evaluation: SLO status, burn-rate alert decisions and breaches."""
