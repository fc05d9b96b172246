"""Every `geospottr ...` command line in README.md and docs/*.md parses with the real argparse parser, so
the documentation cannot drift from the CLI again (issue 16: `challenge --run ID --scoreboard` was
documented but refused; issue 27 moved the detail into docs/, so every page is read).

Command lines come from ```sh blocks (one per line; an indented line starting with ``[`` continues the one
above) and from inline code spans. Usage lines are expanded: ``[...]`` optional, ``(a | b)`` and
``--json|--csv`` alternatives; each alternative and the "every option" and "no option" forms are parsed.
Placeholders (NAME, N, FILE ...) get a value of the option's type. Inline spans only name options
(``geospottr predict --csv``), so there a missing required option is not an error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.cli.main import build_parser

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
#: The pages whose command lines are checked: the README and every page of docs/.
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]


# ---------------------------------------------------------------------- finding the command lines
def readme_commands(text: str) -> list[tuple[str, bool]]:
    """(command line, inline) pairs for every `geospottr ...` command shown."""
    found: list[tuple[str, bool]] = []
    for block in re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, flags=re.S):
        current: str | None = None
        for raw in block.splitlines():
            line = _strip_comment(raw).rstrip()
            if current is not None and line.startswith(" ") and line.strip().startswith("["):
                current += " " + line.strip()
                continue
            if current is not None:
                found.append((current, False))
                current = None
            for part in line.split(";"):
                part = part.strip()
                if part.startswith("geospottr "):
                    current = part if current is None else current
                    if part != current:
                        found.append((part, False))
        if current is not None:
            found.append((current, False))
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found += [(" ".join(m.split()), True) for m in re.findall(r"`(geospottr [^`]+)`", prose)]
    return found


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (a ``#`` inside quotes stays)."""
    quote = None
    for i, ch in enumerate(line):
        if ch in "\"'" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (i == 0 or line[i - 1] == " "):
            return line[:i]
    return line


# ---------------------------------------------------------------------- expanding usage syntax
@dataclass
class Alt:
    options: list[list]  # each a sequence of items


@dataclass
class Opt:
    items: list


def _tokens(line: str) -> list[str]:
    """Shell words with brackets peeled off as tokens of their own, ``--json|--csv`` split at the bar."""
    out: list[str] = []
    for word in shlex.split(line):
        opening = len(word) - len(word.lstrip("[("))
        closing = len(word) - len(word.rstrip("])"))
        out += list(word[:opening])
        core = word[opening:len(word) - closing].removesuffix("...")
        if core.startswith("-") and "|" in core:
            for k, part in enumerate(core.split("|")):
                out += ["|", part] if k else [part]
        elif core:
            out.append(core)
        out += list(word[len(word) - closing:])
    return out


def _parse(tokens: list[str], i: int = 0, closer: str | None = None) -> tuple[list, int]:
    """Items until `closer`; a ``|`` at this level makes the result one `Alt`."""
    branches: list[list] = [[]]
    while i < len(tokens):
        tok = tokens[i]
        if tok == closer:
            break
        if tok in ("[", "("):
            inner, i = _parse(tokens, i + 1, "]" if tok == "[" else ")")
            branches[-1].append(Opt(inner) if tok == "[" else (inner[0] if len(inner) == 1 else Opt(inner).items))
        elif tok == "|":
            branches.append([])
        elif tok != "...":
            branches[-1].append(tok)
        i += 1
    return ([Alt(branches)] if len(branches) > 1 else branches[0]), i


def _flatten(items: list, include_optional: bool, pick: dict[int, int], counter: list[int]) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Opt):
            if include_optional:
                out += _flatten(item.items, include_optional, pick, counter)
        elif isinstance(item, Alt):
            k = counter[0]
            counter[0] += 1
            choice = item.options[min(pick.get(k, 0), len(item.options) - 1)]
            out += _flatten(choice, include_optional, pick, counter)
        elif isinstance(item, list):
            out += _flatten(item, include_optional, pick, counter)
        else:
            out.append(item)
    return out


def _alternatives(items: list) -> list[int]:
    sizes = []
    for item in items:
        if isinstance(item, Alt):
            sizes.append(len(item.options))
            for option in item.options:
                sizes += _alternatives(option)
        elif isinstance(item, Opt):
            sizes += _alternatives(item.items)
        elif isinstance(item, list):
            sizes += _alternatives(item)
    return sizes


def expand(line: str) -> list[list[str]]:
    """argv variants of a usage line: each alternative in turn, with every optional part and with none."""
    items, _ = _parse(_tokens(line))
    sizes = _alternatives(items)
    variants = []
    for include in (True, False):
        for k, size in enumerate(sizes or [1]):
            for choice in range(size):
                argv = _flatten(items, include, {k: choice}, [0])
                if argv not in variants:
                    variants.append(argv)
    return variants


# ---------------------------------------------------------------------- placeholder values
def _subparser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    name = next((t for t in argv if t in sub.choices), None)
    return sub.choices[name] if name else parser


def fill_placeholders(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """NAME, N, FILE, sgd|adamw ... replaced by a value the option accepts (its type, its first choice)."""
    command = _subparser(parser, argv)
    out: list[str] = []
    for k, tok in enumerate(argv):
        if tok.startswith("-") or tok == "geospottr":
            out.append(tok)
            continue
        action = command._option_string_actions.get(argv[k - 1]) if k else None
        if "|" in tok:
            tok = tok.split("|")[0]
        if tok.isupper() or "=" in tok and tok.split("=")[0].isupper() or tok in ("NAME=VALUE",):
            if action is not None and action.choices:
                tok = str(list(action.choices)[0])
            elif action is not None and tok == "NAME=VALUE":
                tok = "blur=0.3"
            else:
                tok = _accepted(action)
        out.append(tok)
    return out[1:]  # without "geospottr"


def _accepted(action: argparse.Action | None) -> str:
    """A value the option's type accepts (int, float, or a validating function of the CLI's own)."""
    if action is None or action.type is None:
        return "x"
    for value in ("1", "0.5", "32", "x"):
        try:
            action.type(value)
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            continue
        return value
    return "x"


# ---------------------------------------------------------------------- the test
COMMANDS = [(page.relative_to(REPO).as_posix(), line, inline) for page in PAGES
            for line, inline in readme_commands(page.read_text(encoding="utf-8"))]


def test_the_docs_show_commands_of_every_kind():
    lines = [c for _, c, _ in COMMANDS]
    assert len(lines) > 20
    assert any(c.startswith("geospottr train [--arch NAME]") and "--resume ID" in c for c in lines)
    assert any(c.startswith("geospottr clean [--checks") and "--undo" in c for c in lines)
    pages = {page for page, _, _ in COMMANDS}
    assert {"README.md", "docs/cli-guide.md", "docs/monitoring.md"} <= pages


@pytest.mark.parametrize("page,line,inline", COMMANDS, ids=[f"{p}: {c[:50]}" for p, c, _ in COMMANDS])
def test_documented_command_line_parses(page, line, inline):
    parser = build_parser()
    for argv in expand(line):
        args = fill_placeholders(parser, argv)
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(args)
        except SystemExit as exc:
            message = stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue().strip() else ""
            if exc.code == 0:  # --help / --version
                continue
            if inline and "required" in message:
                continue
            pytest.fail(f"{page}: `{line}`\n  as {shlex.join(args)}\n  {message}", pytrace=False)
