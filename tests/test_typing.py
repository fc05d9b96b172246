"""mypy checks core/ against a ratchet: the committed baseline counts today's errors per (file, code), and a
count may only go down. New code is typed; old debts are visible and shrink as modules are touched.

Update the baseline after fixing errors (the test says when): ``python tests/test_typing.py --update``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_name("mypy_baseline.txt")
_ERROR = re.compile(r"^(?P<file>[^:\n]+\.py):\d+(?::\d+)?: error: .*\[(?P<code>[a-z0-9-]+)\]\s*$")


def mypy_errors() -> Counter[tuple[str, str]]:
    """Errors of `mypy` (configured in pyproject.toml) on core/, counted per (file, error code)."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir", "/dev/null"],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    if proc.returncode not in (0, 1) or "error: " in proc.stderr:
        raise RuntimeError(f"mypy did not run: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    found = Counter()
    for line in proc.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            found[(match["file"].replace("\\", "/"), match["code"])] += 1
    return found


def read_baseline() -> Counter[tuple[str, str]]:
    counts = Counter()
    for line in BASELINE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            file, code, count = line.split()
            counts[(file, code)] = int(count)
    return counts


def write_baseline(found: Counter[tuple[str, str]]) -> None:
    lines = ["# mypy errors in core/ per file and code (tests/test_typing.py): counts may only go down."]
    lines += [f"{file} {code} {count}" for (file, code), count in sorted(found.items())]
    BASELINE.write_text("\n".join(lines) + "\n")


def test_type_errors_in_core_only_shrink():
    try:
        import mypy  # noqa: F401  (in the dev extra that `make test` installs)
    except ImportError:
        pytest.fail("mypy is missing: the dev extra installs it (pip install -e '.[dev]')")
    found, baseline = mypy_errors(), read_baseline()
    grown = {key: (baseline.get(key, 0), n) for key, n in found.items() if n > baseline.get(key, 0)}
    assert not grown, "new type errors (file, code: baseline -> now), run mypy to see them: " + "; ".join(
        f"{f} [{c}]: {old} -> {new}" for (f, c), (old, new) in sorted(grown.items()))
    shrunk = {key for key, n in baseline.items() if found.get(key, 0) < n}
    assert not shrunk, (f"{len(shrunk)} baseline entries shrank: lock the gain in with "
                        "`python tests/test_typing.py --update`")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    write_baseline(mypy_errors())
    print(f"wrote {BASELINE}")
