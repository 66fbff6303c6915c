"""Run a document's examples in one bash session against a server, and tell what went wrong.

The only change made to an example is the server's address (see ``rewrite_addresses``); the
conventions are in the docstring of ``tests/docs/test_docs_examples.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.docs.demo_server import DemoServer
from tests.docs.markdown_examples import Example, mismatch

RUN_TIMEOUT_SECONDS = 300.0
_MARK = "\x1e"
_MARKED = re.compile(f"{_MARK}(\\d+|end){_MARK}")


def rewrite_addresses(code: str, server: DemoServer) -> str:
    """The one change made to an example: the documented ports become the test server's."""
    code = code.replace("localhost:8080", f"127.0.0.1:{server.http_port}")
    code = code.replace("localhost:1883", f"127.0.0.1:{server.mqtt_port}")
    code = re.sub(r"-p 1883\b", f"-p {server.mqtt_port}", code)
    return re.sub(r"\bport=1883\b", f"port={server.mqtt_port}", code)


def _as_shell(example: Example, server: DemoServer) -> str:
    code = rewrite_addresses(example.code, server)
    if example.language == "python":
        python = shlex.quote(sys.executable)
        return f"{python} - <<'GRIDLINKS_DOCS_PYTHON'\n{code}\nGRIDLINKS_DOCS_PYTHON"
    return code


def session_script(runnable: list[Example], server: DemoServer) -> str:
    """One bash script: each example after a marker, so what it printed can be told apart."""
    parts = ["set -euo pipefail"]
    for index, example in enumerate(runnable):
        parts.append(f"printf '\\036{index}\\036'")
        parts.append(_as_shell(example, server))
    parts.append("printf '\\036end\\036'")
    return "\n".join(parts) + "\n"


@dataclass(frozen=True)
class Session:
    """What a document's session printed per example, and how it ended."""

    printed: dict[int, str]
    finished: bool
    exit_code: int | None


def run_session(script: str, workdir: Path) -> Session:
    """Run the script in bash in ``workdir``, stdout and stderr into one file as a terminal would
    show them; whatever it left running in the background is killed at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDLINKS_")}
    env["PYTHONUNBUFFERED"] = "1"
    # ``gridlinks`` is on the PATH, as in an activated virtual environment.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    output_path = workdir / "session.out"
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            exit_code: int | None = process.wait(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            exit_code = None
        finally:
            _kill_group(process)
    return _split(output_path.read_text(errors="replace"), exit_code)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _split(text: str, exit_code: int | None) -> Session:
    pieces = _MARKED.split(text)
    printed = {}
    finished = False
    for label, piece in zip(pieces[1::2], pieces[2::2], strict=True):
        if label == "end":
            finished = True
        else:
            printed[int(label)] = piece
    return Session(printed, finished and exit_code == 0, exit_code)


def _where(document: str, example: Example) -> str:
    return f"{document}, line {example.line}"


def _stopped_message(document: str, example: Example, session: Session, printed: str) -> str:
    how = (
        f"did not finish within {RUN_TIMEOUT_SECONDS:.0f} s"
        if session.exit_code is None
        else f"exited with code {session.exit_code}"
    )
    return (
        f"{_where(document, example)}: the example {how}.\n--- the example ---\n{example.code}\n"
        f"--- what it printed (stdout and stderr) ---\n{printed}"
    )


def _mismatch_message(document: str, example: Example, problem: str, printed: str) -> str:
    assert example.output is not None
    return (
        f"{_where(document, example)}: the example does not print what line "
        f"{example.output.line} documents: {problem}.\n--- the example ---\n{example.code}\n"
        f"--- documented ---\n{example.output.text}\n--- printed (stdout and stderr) ---\n{printed}"
    )


def problems(document: str, runnable: list[Example], session: Session) -> list[str]:
    """What went wrong, example by example, in order; a session that stopped ends the list."""
    problems: list[str] = []
    for index, example in enumerate(runnable):
        printed = session.printed.get(index, "")
        if index == max(session.printed, default=-1) and not session.finished:
            return [*problems, _stopped_message(document, example, session, printed)]
        if example.output is None:
            if printed.strip():
                problems.append(
                    f"{_where(document, example)}: the example prints something, but no output"
                    f" is documented after it.\n--- the example ---\n{example.code}\n"
                    f"--- printed (stdout and stderr) ---\n{printed}"
                )
            continue
        problem = mismatch(example.output, printed)
        if problem is not None:
            problems.append(_mismatch_message(document, example, problem, printed))
    return problems
