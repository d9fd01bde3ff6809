"""API keys: bearer authentication with read, ingest and admin scopes."""
