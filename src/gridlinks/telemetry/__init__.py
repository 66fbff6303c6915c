"""Time series and latest values of devices: parse, store in batches, read back."""
