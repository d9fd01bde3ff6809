"""Measurements: request events pushed by systems, stored as per-SLO, per-minute good/total counts."""
