"""Every worked example of the docs runs as written, in order, on a fresh server, and prints what
the docs say it prints.

For each document (``README.md`` and ``docs/*.md``) that has examples, the test starts a fresh
server as ``scripts/serve`` does (``gridlinks init --demo``, then ``gridlinks serve
--no-migrate``, SQLite in a new data directory) and runs the document's examples, in order, in
ONE ``bash`` session started with ``set -euo pipefail``, so that variables such as
``$TENANT_JWT`` carry over from one block to the next. Each document stands on its own. The
session runs in the directory that holds the server's ``gridlinks-data``, with ``gridlinks`` on
the PATH, as in a checkout where ``scripts/serve`` runs.

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

import shutil
from pathlib import Path

import pytest

from tests.docs.demo_server import DemoServer
from tests.docs.example_session import problems, run_session, session_script
from tests.docs.markdown_examples import ConventionError, examples

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", *sorted(f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md"))]
# The documents a new user follows step by step: they must keep examples that run.
WALKTHROUGHS = ("README.md", "docs/claiming.md", "docs/device-api.md")
# What the examples call besides bash, and where it comes from.
TOOLS = {
    "curl": "curl",
    "jq": "jq",
    "python3": "python3",
    "mosquitto_pub": "mosquitto-clients",
    "mosquitto_sub": "mosquitto-clients",
    "mosquitto_rr": "mosquitto-clients",
}


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
    document: str, fresh_demo_server: DemoServer
) -> None:
    missing = sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})
    assert not missing, f"the examples need these packages: {', '.join(missing)}"
    runnable = examples(_read(document))
    script = session_script(runnable, fresh_demo_server)
    session = run_session(script, fresh_demo_server.directory)
    found = problems(document, runnable, session)
    if found:
        pytest.fail("\n\n".join(found), pytrace=False)
