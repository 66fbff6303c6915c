"""RPC domain rules (pure)."""
