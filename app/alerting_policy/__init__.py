"""Alerting policy: silences that mute notifications, and the error-budget release freeze."""
