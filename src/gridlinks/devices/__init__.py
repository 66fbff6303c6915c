"""Devices, device profiles and device credentials."""
