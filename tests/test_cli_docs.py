"""docs/cli.md is the parser's own reference: regenerate it with `python docs/make_cli_md.py` after
changing a command, or this test fails (it names the first line that differs)."""

from __future__ import annotations

from tests.conftest import REPO, load_script


def _generator():
    return load_script("docs/make_cli_md.py")


def test_docs_cli_md_is_generated_from_the_current_parser():
    expected = _generator().markdown()
    current = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    if current != expected:
        diff = next((i, a, b) for i, (a, b) in enumerate(zip(current.splitlines() + [""], expected.splitlines() + [""]))
                    if a != b)
        raise AssertionError(f"docs/cli.md is out of date (run `python docs/make_cli_md.py`); line {diff[0] + 1}:\n"
                             f"  file:   {diff[1]}\n  parser: {diff[2]}")


def test_every_command_and_option_is_in_the_reference():
    from core.cli.main import build_parser

    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    parser = build_parser()
    sub = parser._subparsers._group_actions[0]
    for name, command in sub.choices.items():
        assert f"## geospottr {name}\n" in text
        for action in command._actions:
            for flag in action.option_strings:
                assert flag in text, f"{name} {flag}"
