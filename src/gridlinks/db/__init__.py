"""Storage: table metadata, engines for SQLite and PostgreSQL, the unit of work."""
