"""The demo: the real service on the embedded Postgres, with simulated traffic and an incident."""
