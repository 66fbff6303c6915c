"""What the operator should type next: the command's own name and the taken-port hint.

Light on purpose: ``gridlinks --help`` imports this module, and it must not pull in the server.
"""

from __future__ import annotations

import os
import shutil
import sys

from gridlinks.errors import ConfigurationError


class PortTakenError(ConfigurationError):
    """A listener cannot bind its port; ``env_name`` is the setting that moves it."""

    def __init__(self, message: str, env_name: str, port: int) -> None:
        super().__init__(message)
        self.env_name = env_name
        self.port = port


def port_hint(error: PortTakenError, command: str) -> str:
    """One line: the command to run instead (another port, or HTTP only for MQTT)."""
    moved = f"{error.env_name}={error.port + 1} {command}"
    if not error.env_name.startswith("GRIDLINKS_MQTT_"):
        return f"port {error.port} is taken (another server?): run {moved}"
    return (
        f"port {error.port} is taken (another MQTT broker?): run {moved}, "
        f"or GRIDLINKS_MQTT_ENABLED=false {command} for HTTP only"
    )


def command_name() -> str:
    """``gridlinks`` when that is what the shell finds, else the path it was run by (from
    ``scripts/serve``: ``.venv/bin/gridlinks``), so printed commands run as printed."""
    argv0 = sys.argv[0]
    if os.path.basename(argv0) != "gridlinks":  # python -m gridlinks.cli.main
        return "gridlinks"
    on_path = shutil.which("gridlinks")
    if on_path and os.path.exists(argv0) and os.path.samefile(on_path, argv0):
        return "gridlinks"
    relative = os.path.relpath(argv0)
    return os.path.abspath(argv0) if relative.startswith("..") else relative
