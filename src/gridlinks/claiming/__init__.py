"""Device claiming: claim windows, the claim decision, release (SPEC 3)."""
