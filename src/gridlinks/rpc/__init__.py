"""Server-side RPC: commands from users to devices (one-way, two-way, persistent)."""
