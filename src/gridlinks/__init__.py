"""GridLinks: an IoT device platform built around device claiming."""

from __future__ import annotations

__version__ = "0.1.0"
