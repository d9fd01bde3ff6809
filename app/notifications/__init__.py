"""Notifications: an outbox written with each breach change, delivered to Slack by a worker."""
