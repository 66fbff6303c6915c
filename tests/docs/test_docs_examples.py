"""Every worked example of the docs runs as written, in order, on a fresh server, and prints what
the docs say it prints.

For each document (``README.md`` and ``docs/*.md``) that has examples, the test starts a fresh
server as ``scripts/serve`` does (``gridlinks init --demo``, then ``gridlinks serve
--no-migrate``, SQLite in a new data directory) and runs the document's examples, in order, in
ONE ``bash`` session started with ``set -euo pipefail``, so that variables such as
``$TENANT_JWT`` carry over from one block to the next. Each document stands on its own.

Conventions for writing docs:

- A fenced block in ``sh``, ``bash`` or ``shell`` is an example and runs; a ``python`` block
  runs too (with the test's Python, which has ``tb-mqtt-client``), in the same order.
- A block that must not run is preceded by ``<!-- not-run: reason -->`` on the line before it
  (blank lines between are allowed), e.g. commands that start servers or need PostgreSQL.
- The block right after an example (blank lines between at most) in ``text``, ``json`` or no
  language is the output the example prints: its stdout and stderr, as a terminal shows them.
  A ``json`` output is compared as JSON values, one after another (so it may be pretty-printed
  where ``jq -c`` or ``curl`` prints one line); any other output line by line, trailing spaces
  and leading and trailing blank lines aside.
- An example with no output block after it must print nothing.
- Placeholders in a documented output, for what differs from run to run:
  ``<uuid>`` any id; ``<ts>`` epoch milliseconds (13 digits; outside a JSON string, a number);
  ``<jwt>`` a JSON Web Token; ``<token>`` a generated access token (8 or more of
  ``[A-Za-z0-9_-]``); ``...`` any text within a line, a line of its own any number of lines,
  and, outside a JSON string, any JSON value.

The only change made to an example before it runs is the address of the server:
``localhost:8080`` becomes the HTTP address of the test's server, and ``-p 1883``,
``localhost:1883`` and ``port=1883`` its MQTT port (Mosquitto may hold 1883 on this machine,
and tests run in parallel).

A failure names the document, the line of the block, the command and what it printed.
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

import pytest

from tests.docs.conftest import DemoServer
from tests.docs.markdown_examples import ConventionError, Example, examples, mismatch

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", *sorted(f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md"))]
# The documents a new user follows step by step: they must keep examples that run.
WALKTHROUGHS = ("README.md", "docs/claiming.md", "docs/device-api.md")
RUN_TIMEOUT_SECONDS = 300.0
_MARK = "\x1e"
_MARKED = re.compile(f"{_MARK}(\\d+|end){_MARK}")


def _read(document: str) -> str:
    return (ROOT / document).read_text(encoding="utf-8")


def _documents_with_examples() -> list[str]:
    found = []
    for document in DOCUMENTS:
        try:
            runs = bool(examples(_read(document)))
        except ConventionError:
            runs = True  # the test names the broken convention
        if runs:
            found.append(document)
    return found


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
    """Run the script in bash, stdout and stderr into one file as a terminal would show them;
    whatever it left running in the background is killed at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDLINKS_")}
    env["PYTHONUNBUFFERED"] = "1"
    output_path = workdir / "session.out"
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=workdir,
            env=env,
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


def _problems(document: str, runnable: list[Example], session: Session) -> list[str]:
    """What went wrong, example by example, in order; a session that stopped ends the list."""
    problems = []
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


def test_the_docs_keep_the_example_conventions_and_the_walkthroughs_have_examples() -> None:
    for document in DOCUMENTS:
        try:
            examples(_read(document))
        except ConventionError as error:
            pytest.fail(f"{document}: {error}", pytrace=False)
    for document in WALKTHROUGHS:
        assert examples(_read(document)), f"{document} has no example that runs"


@pytest.mark.e2e
@pytest.mark.parametrize("document", _documents_with_examples())
def test_the_examples_of_a_document_run_as_written_on_a_fresh_server(
    document: str, fresh_demo_server: DemoServer, tmp_path: Path
) -> None:
    runnable = examples(_read(document))
    session = run_session(session_script(runnable, fresh_demo_server), tmp_path)
    problems = _problems(document, runnable, session)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
