"""Postmortems written against one or more breaches."""
