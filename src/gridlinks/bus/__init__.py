"""Pub/sub for events after commit: in memory (one process) or Redis (every node)."""
