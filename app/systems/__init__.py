"""ML systems: registration, owners and lifecycle phase."""
