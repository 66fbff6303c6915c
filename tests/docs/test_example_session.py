"""The session that runs a document's examples, checked with real bash on small documents: the
variables carry over, a failing example is named with its line and what it printed."""

from __future__ import annotations

from pathlib import Path

from tests.docs.demo_server import DemoServer
from tests.docs.example_session import problems, rewrite_addresses, run_session, session_script
from tests.docs.markdown_examples import examples

SERVER = DemoServer(41234, 41883, Path("server.log"), Path("."))


def run(document: str, tmp_path: Path) -> list[str]:
    runnable = examples(document)
    return problems("doc.md", runnable, run_session(session_script(runnable, SERVER), tmp_path))


def test_variables_carry_over_and_each_example_is_compared_with_its_own_output(
    tmp_path: Path,
) -> None:
    document = (
        "```sh\nWHO=world\nprintf 'hello'\n```\n\n```text\nhello\n```\n\n"
        '```sh\necho "hello $WHO"\n```\n\n```text\nhello world\n```\n'
    )

    assert run(document, tmp_path) == []


def test_an_example_that_fails_stops_the_session_and_is_named_with_its_line_and_output(
    tmp_path: Path,
) -> None:
    document = (
        '```sh\nKEY=s3\n```\n\n```sh\necho "bad $KEY" >&2\nfalse\n```\n\n```sh\necho never\n```\n'
    )

    found = run(document, tmp_path)

    assert len(found) == 1
    assert found[0].startswith("doc.md, line 5: the example exited with code 1.")
    assert "bad s3" in found[0]


def test_an_unset_variable_fails_the_example_that_uses_it(tmp_path: Path) -> None:
    found = run('```sh\necho "$DEVICE_TOKEN"\n```\n', tmp_path)

    assert len(found) == 1
    assert "DEVICE_TOKEN: unbound variable" in found[0]


def test_an_example_that_prints_what_no_output_documents_is_a_problem(tmp_path: Path) -> None:
    found = run("```sh\necho null\n```\n", tmp_path)

    assert len(found) == 1
    assert "prints something, but no output is documented" in found[0]


def test_an_example_whose_output_differs_names_the_documented_line(tmp_path: Path) -> None:
    found = run('```sh\necho \'"FAILURE"\'\n```\n\n```json\n"SUCCESS"\n```\n', tmp_path)

    assert len(found) == 1
    assert found[0].startswith("doc.md, line 1: the example does not print what line 5 documents")


def test_only_the_documented_ports_are_rewritten() -> None:
    code = (
        "curl localhost:8080/api; mosquitto_pub -h localhost -p 1883; "
        "mosquitto_rr -p 18830; Client(port=1883); echo 8080 1883"
    )

    assert rewrite_addresses(code, SERVER) == (
        "curl 127.0.0.1:41234/api; mosquitto_pub -h localhost -p 41883; "
        "mosquitto_rr -p 18830; Client(port=41883); echo 8080 1883"
    )
