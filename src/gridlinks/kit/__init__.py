"""Business-free helpers: clock, ids, secrets, pagination, JSON."""
