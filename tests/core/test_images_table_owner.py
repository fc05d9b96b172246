"""docs/architecture.md rule 6: only core/data/project.py writes the images table. Every other module asks the
`Project` (set_status/set_statuses, write_labels, forget_images, add_image...), so status values are
checked and the rules for rows live in one place. This test reads every SQL string in the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OWNER = REPO / "core" / "data" / "project.py"
WRITES_IMAGES = re.compile(r"\b(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+images\b", re.I)


def image_table_writes(path: Path) -> list[int]:
    """Lines of `path` whose string constants (f-strings included) write the images table."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted({node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)
                   and WRITES_IMAGES.search(node.value)})


def test_only_the_project_writes_the_images_table():
    offenders = {str(p.relative_to(REPO)): lines
                 for folder in ("core", "geospottr_gui") for p in sorted((REPO / folder).rglob("*.py"))
                 if p != OWNER and (lines := image_table_writes(p))}
    assert offenders == {}, "write the images table through core.data.project.Project, not SQL: " + repr(offenders)
    assert image_table_writes(OWNER), "the owner itself must still be recognised (the pattern went stale)"


def test_the_pattern_sees_the_spellings_a_writer_would_use(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('a = "update images set status = ?"\nb = f"DELETE FROM images WHERE id IN ({1})"\n'
                       'c = "INSERT OR REPLACE INTO images(id) VALUES(?)"\nd = "SELECT * FROM images"\n')
    assert image_table_writes(planted) == [1, 2, 3]
