"""Fetchers: one per source table, registered by type name."""
