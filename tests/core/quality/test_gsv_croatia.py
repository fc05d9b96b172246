"""On 400 real Street View frames: no frame flags, and the 4 headings of a place are not duplicates."""

from __future__ import annotations

import pytest

from core.data import catalog
from core.data.importing import import_source
from core.data.project import Project
from core.quality import scan
from tests.conftest import CROATIA_CITIES


@pytest.mark.slow
def test_real_street_frames_raise_no_flags(gsv_croatia, tmp_path):
    with Project.init(tmp_path / "p", [catalog.resolve(q) for q in CROATIA_CITIES]) as project:
        report = import_source(project, gsv_croatia / "manifest.csv")
        assert report.added == 400
        findings = scan(project, "frames,duplicates")
        locations = {r.location_id for r in project.images()}
    assert len(locations) == 100
    assert findings == [], [(f.kind, f.message) for f in findings[:5]]
