"""The worked examples of a markdown document and the outputs it documents for them.

What runs, what is compared, and the placeholders are described in the docstring of
``tests/docs/test_docs_examples.py``. This module only reads markdown and compares text: it
starts nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Blocks in these languages are examples: each runs, unless marked not-run.
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console"})
RUNNABLE_LANGUAGES = SHELL_LANGUAGES | {"python"}
# A block in one of these right after an example (blank lines between at most) is its output.
OUTPUT_LANGUAGES = frozenset({"", "text", "json"})

_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(.*?)\s*-->$")

# What each placeholder of a documented output stands for.
PLACEHOLDERS = {
    "<uuid>": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "<ts>": r"[0-9]{13}",
    "<jwt>": r"[\w-]+\.[\w-]+\.[\w-]+",
    "<token>": r"[\w-]{8,}",
    "...": r".*?",
}
_PLACEHOLDER = re.compile("|".join(re.escape(name) for name in PLACEHOLDERS))
# A bare placeholder in a JSON output (outside a string) becomes this marker string first.
_BARE = "\u0000"


@dataclass(frozen=True)
class Fence:
    """A fenced block: the line of its opening fence (1-based), its language and its text."""

    line: int
    end_line: int
    language: str
    text: str
    not_run_reason: str | None


@dataclass(frozen=True)
class Output:
    """A documented output: ``language`` is ``json`` (compared as JSON values) or text."""

    line: int
    language: str
    text: str


@dataclass(frozen=True)
class Example:
    """A block that runs, with the output documented right after it (``None``: prints nothing)."""

    line: int
    language: str
    code: str
    output: Output | None


class ConventionError(ValueError):
    """The document breaks a convention of the examples (e.g. a not-run marker without reason)."""


def fences(markdown: str) -> list[Fence]:
    """Every fenced block, in order."""
    lines = markdown.splitlines()
    found: list[Fence] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = _closing_fence(lines, index)
        reason = _not_run_reason(lines, index)
        text = "\n".join(lines[index + 1 : end])
        found.append(Fence(index + 1, end + 1, opening.group(1).lower(), text, reason))
        index = end + 1
    return found


def _closing_fence(lines: list[str], opening: int) -> int:
    for index in range(opening + 1, len(lines)):
        if lines[index].strip() == "```":
            return index
    raise ConventionError(f"line {opening + 1}: the block is never closed")


def _not_run_reason(lines: list[str], opening: int) -> str | None:
    """The reason of a ``<!-- not-run: reason -->`` on the last non-blank line before a fence."""
    previous = next((line for line in reversed(lines[:opening]) if line.strip()), "")
    marker = _NOT_RUN.match(previous.strip())
    if marker is None:
        return None
    if not marker.group(1):
        raise ConventionError(f"line {opening + 1}: a not-run marker must give its reason")
    return marker.group(1)


def examples(markdown: str) -> list[Example]:
    """The blocks that run, in order, each with the output documented right after it."""
    blocks = fences(markdown)
    lines = markdown.splitlines()
    found = []
    for index, block in enumerate(blocks):
        if block.language not in RUNNABLE_LANGUAGES or block.not_run_reason is not None:
            continue
        if block.language == "console":
            raise ConventionError(
                f"line {block.line}: write a console session as an sh block (the commands) "
                "followed by a text block (what they print)"
            )
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        output = None
        if (
            following is not None
            and following.language in OUTPUT_LANGUAGES
            and _directly_after(lines, block, following)
        ):
            output = Output(following.line, following.language, following.text)
        found.append(Example(block.line, block.language, block.text, output))
    return found


def _directly_after(lines: list[str], block: Fence, following: Fence) -> bool:
    between = lines[block.end_line : following.line - 1]
    return all(not line.strip() for line in between)


def mismatch(output: Output, printed: str) -> str | None:
    """Why ``printed`` is not the documented output, or ``None`` when it is."""
    if output.language == "json":
        return _json_mismatch(output.text, printed)
    return _text_mismatch(output.text, printed)


def _trimmed_lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _line_pattern(line: str) -> str:
    """A documented line as a regular expression: placeholders match, the rest is literal."""
    parts = _PLACEHOLDER.split(line)
    names = _PLACEHOLDER.findall(line)
    pattern = re.escape(parts[0])
    for name, part in zip(names, parts[1:], strict=True):
        pattern += PLACEHOLDERS[name] + re.escape(part)
    return pattern


def _text_mismatch(documented: str, printed: str) -> str | None:
    """Line by line; a line that is only ``...`` stands for any number of lines."""
    pattern = ""
    for line in _trimmed_lines(documented):
        if line.strip() == "...":
            pattern += r"(?:[^\n]*\n)*?"
        else:
            pattern += _line_pattern(line) + r"\n"
    actual = "".join(line + "\n" for line in _trimmed_lines(printed))
    if re.fullmatch(pattern, actual):
        return None
    return "the printed lines differ from the documented ones"


def _json_mismatch(documented: str, printed: str) -> str | None:
    try:
        expected = _json_values(_quote_bare_placeholders(documented))
    except ValueError as error:
        return f"the documented output is not JSON: {error}"
    try:
        actual = _json_values(printed)
    except ValueError as error:
        return f"the printed output is not JSON: {error}"
    if len(expected) != len(actual):
        return f"{len(actual)} JSON values printed, {len(expected)} documented"
    for number, (want, got) in enumerate(zip(expected, actual, strict=True), start=1):
        problem = _value_mismatch(want, got, f"value {number}")
        if problem is not None:
            return problem
    return None


def _json_values(text: str) -> list[Any]:
    """The JSON values of a text, one after another (as ``curl`` and ``jq`` print them)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return values
        value, position = decoder.raw_decode(text, position)
        values.append(value)


def _quote_bare_placeholders(text: str) -> str:
    """``"createdTime": <ts>`` is not JSON: turn placeholders outside strings into marker
    strings, leaving the text inside strings alone."""
    result = []
    in_string = escaped = False
    position = 0
    while position < len(text):
        char = text[position]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        else:
            found = _PLACEHOLDER.match(text, position)
            if found:
                result.append(json.dumps(_BARE + found.group()))
                position = found.end()
                continue
        result.append(char)
        position += 1
    return "".join(result)


def _value_mismatch(want: Any, got: Any, where: str) -> str | None:
    if isinstance(want, str) and want.startswith(_BARE):
        return _bare_mismatch(want[len(_BARE) :], got, where)
    if isinstance(want, dict):
        return _object_mismatch(want, got, where)
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{where}: documented {json.dumps(want)}, printed {json.dumps(got)}"
        for index, (item, actual) in enumerate(zip(want, got, strict=True)):
            problem = _value_mismatch(item, actual, f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if isinstance(want, str):
        if isinstance(got, str) and re.fullmatch(_line_pattern(want), got, re.DOTALL):
            return None
    elif type(want) is type(got) and want == got:
        return None
    return f"{where}: documented {json.dumps(want)}, printed {json.dumps(got)}"


def _object_mismatch(want: dict[str, Any], got: Any, where: str) -> str | None:
    if not isinstance(got, dict):
        return f"{where}: documented an object, printed {json.dumps(got)}"
    if set(want) != set(got):
        return f"{where}: documented the keys {sorted(want)}, printed {sorted(got)}"
    for key, item in want.items():
        problem = _value_mismatch(item, got[key], f"{where}.{key}")
        if problem is not None:
            return problem
    return None


def _bare_mismatch(placeholder: str, got: Any, where: str) -> str | None:
    """``<ts>`` outside a string is an epoch-milliseconds number; ``...`` any value."""
    if placeholder == "...":
        return None
    if placeholder == "<ts>" and type(got) is int and re.fullmatch(PLACEHOLDERS["<ts>"], str(got)):
        return None
    return f"{where}: documented {placeholder}, printed {json.dumps(got)}"
