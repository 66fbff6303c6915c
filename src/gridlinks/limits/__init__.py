"""Rate limits behind one small interface: in memory (one process) or Redis (shared)."""
