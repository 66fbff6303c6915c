"""The audit log: who did what to which entity, with outcome and reason."""
