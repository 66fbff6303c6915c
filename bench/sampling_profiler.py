"""Run a Python module under a small CPU-time sampling profiler that signals switch on and off.

    python bench/sampling_profiler.py OUT_PREFIX -m gridlinks.cli.main serve

SIGUSR1 starts a segment; SIGUSR2 ends it and writes ``OUT_PREFIX-<n>.txt`` (the functions most
often running, and most often on the stack) and ``OUT_PREFIX-<n>.folded`` (one
``frame;frame;... count`` line per stack, the input of flame graph tools). ``claim.py --profile``
uses it to profile only the measured phases of the server.

How: ``setitimer(ITIMER_PROF)`` raises SIGPROF every ``INTERVAL_SECONDS`` of CPU time the process
uses (in practice at most once per kernel tick, often 4 ms), and the handler records the main
thread's stack. So samples follow CPU time, not wall time, and unlike cProfile it neither slows
coroutines down much nor counts each resumption as a call. CPU time of other threads (aiosqlite's
connection threads, the AnyIO thread pool) lands on whatever the main thread was doing, mostly
waiting in ``select``: those samples are shown as ``[other threads, or the loop itself]``. A C
function (JSON, pydantic-core, a socket write) is counted in the Python function that called it.
"""

from __future__ import annotations

import runpy
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType

try:
    import greenlet
except ImportError:  # only SQLAlchemy's async layer brings it
    greenlet = None

INTERVAL_SECONDS = 0.001
TOP = 45
# The event loop's top frame while it waits: CPU time seen there was used by other threads.
WAITING = ("select (", "_read_from_self (")
OTHER_THREADS = "[other threads, or the loop itself]"


def frame_name(frame: FrameType) -> str:
    code = frame.f_code
    path = code.co_filename
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{code.co_name} ({path}:{code.co_firstlineno})"


def frames_of(frame: FrameType | None) -> list[str]:
    """Names from the outermost frame to ``frame``."""
    names = []
    while frame is not None:
        names.append(frame_name(frame))
        frame = frame.f_back
    names.reverse()
    return names


def stack_of(frame: FrameType | None) -> tuple[str, ...]:
    """The running stack; SQLAlchemy's async layer runs queries in a greenlet whose frames do
    not lead back to the coroutine that awaits them, so those are joined to their parent's."""
    names = frames_of(frame)
    parent = getattr(greenlet.getcurrent(), "parent", None) if greenlet else None
    if parent is not None:
        names = frames_of(parent.gr_frame) + names
    if names and names[-1].startswith(WAITING):
        names.append(OTHER_THREADS)
    return tuple(names)


class Sampler:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.stacks: Counter[tuple[str, ...]] = Counter()
        self.segment = 0
        self.started = 0.0

    def sample(self, _signum: int, frame: FrameType | None) -> None:
        self.stacks[stack_of(frame)] += 1

    def start(self, *_: object) -> None:
        self.stacks = Counter()
        self.started = time.perf_counter()
        signal.setitimer(signal.ITIMER_PROF, INTERVAL_SECONDS, INTERVAL_SECONDS)

    def stop(self, *_: object) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        stacks, self.stacks = self.stacks, Counter()
        self.segment += 1
        seconds = time.perf_counter() - self.started
        path = Path(f"{self.prefix}-{self.segment}")
        path.with_suffix(".folded").write_text(
            "".join(f"{';'.join(stack)} {count}\n" for stack, count in stacks.items())
        )
        # The summary last: its appearance tells the caller the segment is complete.
        path.with_suffix(".txt").write_text(summary(stacks, seconds))


def summary(stacks: Counter[tuple[str, ...]], seconds: float) -> str:
    total = sum(stacks.values())
    lines = [f"{total} samples in {seconds:.1f} s"]
    if not total:
        return lines[0] + "\n"
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for stack, n in stacks.items():
        own[stack[-1]] += n
        for name in set(stack):
            anywhere[name] += n
    lines.append("\n-- running (self time), % of CPU samples:")
    lines += [f"{100 * n / total:6.1f}%  {name}" for name, n in own.most_common(TOP)]
    lines.append("\n-- on the stack (inclusive time), % of CPU samples:")
    lines += [f"{100 * n / total:6.1f}%  {name}" for name, n in anywhere.most_common(TOP * 2)]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        sys.exit("usage: sampling_profiler.py OUT_PREFIX -m MODULE [ARGS...]")
    sampler = Sampler(sys.argv[1])
    signal.signal(signal.SIGPROF, sampler.sample)
    signal.signal(signal.SIGUSR1, sampler.start)
    signal.signal(signal.SIGUSR2, sampler.stop)
    module, sys.argv = sys.argv[3], sys.argv[3:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
