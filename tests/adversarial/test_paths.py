"""Issue 15 item 1: no slug or stored path, from any source, makes GeoSpottr write (or delete) outside the
project or the export folder."""

from __future__ import annotations

import json

import pytest

from core.data import catalog
from core.data.exporting import export
from core.data.importing import import_source
from core.errors import GeoSpottrError

from .conftest import cli, one_line_error
from .hostile import EVIL_SLUGS, jpeg


def _export_folder(root, slug):
    """An ImageFolder export whose cities.json carries `slug` (and a photo under a plain folder)."""
    (root / "zagreb").mkdir(parents=True)
    (root / "zagreb" / "a.jpg").write_bytes(jpeg((40, 30), seed=1))
    (root / "cities.json").write_text(json.dumps([{"slug": slug, "name": "Evil", "country": "HR", "lat": 45.0,
                                                   "lon": 16.0, "target_count": 5}]))
    return root


def _everything_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize("slug", EVIL_SLUGS, ids=[repr(s)[:20] for s in EVIL_SLUGS])
def test_cities_json_slug_cannot_escape(tmp_path, proj, slug):
    src = _export_folder(tmp_path / "deep" / "a" / "b" / "export", slug)
    before = _everything_under(tmp_path)
    with pytest.raises(GeoSpottrError, match="slug"):
        import_source(proj, src)
    created = set(_everything_under(tmp_path)) - set(before)
    assert all(p.startswith("project/") for p in created), created
    assert [c.slug for c in proj.cities()] == ["split", "zagreb"]


def test_every_slug_source_passes_one_validator(proj):
    for slug in EVIL_SLUGS:
        with pytest.raises(GeoSpottrError):
            catalog.validate_slug(slug)
        with pytest.raises(GeoSpottrError):
            proj.add_city(catalog.resolve("Rijeka,HR"), slug=slug if isinstance(slug, str) and slug else "../x")
    for name in ("../../etc", "con", "..\\..\\x", "Zagreb/../../x"):  # catalog/CSV/GUI names are slugified
        assert ".." not in catalog.slugify(name) and "/" not in catalog.slugify(name)
    assert catalog.validate_slug("new-york_2") == "new-york_2"


def test_a_tampered_database_cannot_make_export_or_remove_escape(tmp_path, proj):
    src = tmp_path / "src"
    (src / "zagreb").mkdir(parents=True)
    (src / "zagreb" / "a.jpg").write_bytes(jpeg((40, 30), seed=2))
    import_source(proj, src)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    with proj.transaction() as c:  # what an attacker who ships a project database could write
        c.execute("UPDATE cities SET slug = '../../outside' WHERE slug = 'zagreb'")
    with pytest.raises(GeoSpottrError, match="outside|unsafe"):
        export(proj, "imagefolder", tmp_path / "out")
    assert not (tmp_path / "outside").exists()
    with proj.transaction() as c:
        c.execute("UPDATE cities SET slug = 'zagreb' WHERE slug = '../../outside'")
        c.execute("UPDATE images SET path = '../victim.txt'")
    with pytest.raises(GeoSpottrError, match="outside|unsafe"):
        proj.remove_city("zagreb", delete_images=True)
    assert victim.read_text() == "keep me"


def test_cli_import_of_a_traversal_export_is_one_line_error(tmp_path, proj):
    src = _export_folder(tmp_path / "export", "../../somewhere/deep")
    result = cli("--project", proj.root, "import", src)
    assert "slug" in one_line_error(result)
    assert not (tmp_path / "somewhere").exists() and not (tmp_path.parent / "somewhere").exists()


def test_a_run_id_cannot_be_a_path_out_of_the_project(tmp_path, proj):
    """`train --resume ID` writes into the run's folder: an id like ../../elsewhere must not lead there."""
    from core.training.runs import CONFIG, run_dir

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / CONFIG).write_text("{}")
    for ref in ("../../elsewhere", "../" * 8 + str(elsewhere).lstrip("/"), "..", "a/b"):
        with pytest.raises(GeoSpottrError, match="not a run id"):
            run_dir(proj.runs_dir, ref)
