"""SLO definitions: the per-phase files, their validation, and applying them to the database."""
