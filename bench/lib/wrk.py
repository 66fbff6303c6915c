"""HTTP load with ``wrk`` (C, one connection per in-flight request, cheap on the client side):
a Lua script rotates through a list of paths, and its ``done`` hook prints the figures as one
JSON line, so that percentiles come from wrk's own histogram instead of its text report."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARKER = "WRKJSON "

# ``paths`` come from the file named by BENCH_WRK_PATHS (one per line); each wrk thread starts
# at its own offset. Status errors are responses other than 2xx/3xx.
SCRIPT = """\
local paths = {}
for line in io.lines(os.getenv("BENCH_WRK_PATHS")) do paths[#paths + 1] = line end
local body = os.getenv("BENCH_WRK_BODY")
if body == "" then body = nil end
wrk.method = os.getenv("BENCH_WRK_METHOD")
wrk.headers["X-Authorization"] = "Bearer " .. os.getenv("BENCH_WRK_TOKEN")
if body then wrk.headers["Content-Type"] = "application/json" end

local threads, offset = 0, 0
function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end
function init(args) offset = tonumber(offset) or 0 end

local i = 0
function request()
  i = i + 1
  return wrk.format(nil, paths[(offset + i) % #paths + 1], nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,'
    .. '"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\\n',
    "__MARKER__", summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
""".replace("__MARKER__", MARKER)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    cpu: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.rate, 1),
            "errors": self.errors,
            "latency_ms": self.latency_ms,
            **self.cpu,
        }


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise FileNotFoundError("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")
    return found


@dataclass
class Wrk:
    """One wrk command line, ready to run: ``start()`` it, then ``finish()`` for the figures."""

    base_url: str
    token: str
    paths: list[str]
    method: str = "GET"
    body: str = ""
    connections: int = 32
    threads: int = 1
    timeout_seconds: float = 10.0
    process: asyncio.subprocess.Process | None = None
    _directory: Path | None = None

    async def start(self, seconds: float) -> int:
        """Start wrk for ``seconds``; its pid (for the CPU split)."""
        self._directory = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
        script, paths = self._directory / "rotate.lua", self._directory / "paths.txt"
        script.write_text(SCRIPT)
        paths.write_text("\n".join(self.paths) + "\n")
        command = [
            wrk_path(),
            f"--threads={self.threads}",
            f"--connections={max(self.connections, self.threads)}",
            f"--duration={max(round(seconds), 1)}s",
            f"--timeout={max(round(self.timeout_seconds), 1)}s",
            f"--script={script}",
            self.base_url,
        ]
        env = {
            "BENCH_WRK_PATHS": str(paths),
            "BENCH_WRK_METHOD": self.method,
            "BENCH_WRK_BODY": self.body,
            "BENCH_WRK_TOKEN": self.token,
            "PATH": "/usr/bin:/bin",
        }
        self.process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        return self.process.pid

    async def finish(self) -> WrkResult:
        """Wait for wrk to end; its figures (``RuntimeError`` with its output if it failed)."""
        assert self.process is not None
        output, _ = await self.process.communicate()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
        text = output.decode(errors="replace")
        line = next((ln for ln in text.splitlines() if ln.startswith(MARKER)), None)
        if self.process.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed (exit {self.process.returncode}):\n{text[-2000:]}")
        data = json.loads(line[len(MARKER) :])
        ms = 1000.0
        return WrkResult(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            errors={
                name: data[name]
                for name in ("connect", "read", "write", "status", "timeout")
                if data[name]
            },
            latency_ms={
                "p50": round(data["p50_us"] / ms, 2),
                "p90": round(data["p90_us"] / ms, 2),
                "p99": round(data["p99_us"] / ms, 2),
                "max": round(data["max_us"] / ms, 2),
                "mean": round(data["mean_us"] / ms, 2),
            },
        )
