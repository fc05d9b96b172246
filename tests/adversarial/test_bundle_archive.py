"""Issue 24 item 5 (the bundle part): a model bundle is checked entry by entry, from its ZIP directory,
before anything is inflated or unpickled: a deflate-compressed 3 GiB tensor hidden in the resume state is
refused at once, in bounded memory; prediction never reads the resume state; a bundle whose ensemble
member lost its weights is one clear line."""

from __future__ import annotations

import time
import zipfile

import pytest
import torch

from core.models.bundle import BundleError, read_bundle

from .conftest import cli, needs_linux, one_line_error, run_bounded
from .hostile import jpeg
from .test_bundle import tampered

GIB = 1024**3


def _storage_entries(path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as archive:
        return [i for i in archive.infolist() if "/data/" in i.filename and not i.filename.endswith(".pkl")]


@pytest.fixture
def bomb(tmp_path, bundle_path):
    """The bundle with a small tensor in its resume state whose storage entry is swapped for 3 GiB of
    zeros, deflated to a few MB: torch.load would inflate all of it."""
    payload = torch.load(bundle_path, weights_only=True)
    payload["extra"] = {"optimizer": {"big": torch.zeros(4)}}
    honest = tmp_path / "honest.pt"
    torch.save(payload, honest)
    target = max(_storage_entries(honest), key=lambda i: int(i.filename.rsplit("/", 1)[1])).filename
    out = tmp_path / "bomb.pt"
    chunk = bytes(64 * 1024**2)
    with zipfile.ZipFile(honest) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != target:
                dst.writestr(info, src.read(info))
                continue
            packed = zipfile.ZipInfo(info.filename)
            packed.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(packed, "w", force_zip64=True) as f:
                for _ in range(3 * GIB // len(chunk)):
                    f.write(chunk)
    assert out.stat().st_size < 50 * 1024**2
    return out


@pytest.mark.slow
@needs_linux
def test_a_deflated_3_gib_tensor_in_the_resume_state_is_refused_at_once_in_bounded_memory(bomb):
    started = time.monotonic()
    with pytest.raises(BundleError, match="compressed, which PyTorch never writes"):
        read_bundle(bomb)
    assert time.monotonic() - started < 2.0
    result = run_bounded(f"from core.models.bundle import read_bundle\nread_bundle({str(bomb)!r})\n",
                         preload="import torch\nimport core.models.bundle\n")
    assert "BundleError" in result.stderr and "compressed" in result.stderr and "MemoryError" not in result.stderr


def test_entries_claiming_more_than_the_file_holds_are_refused(tmp_path, bundle_path):
    data = bytearray(bundle_path.read_bytes())
    name = _storage_entries(bundle_path)[0].filename.encode()
    at = data.find(b"PK\x01\x02")  # the central directory: find the entry's record and make it claim 3 GiB
    while data[at + 46:at + 46 + len(name)] != name:
        at = data.find(b"PK\x01\x02", at + 4)
    data[at + 20:at + 28] = (3 * GIB).to_bytes(4, "little") * 2  # compressed and uncompressed size
    bad = tmp_path / "claims.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="claims more bytes than the file holds"):
        read_bundle(bad)


def test_prediction_never_reads_the_resume_state(tmp_path, bundle_path):
    payload = torch.load(bundle_path, weights_only=True)
    payload["extra"] = {"optimizer": {"state": torch.ones(1000)}, "epoch": 3}
    path = tmp_path / "last.pt"
    torch.save(payload, path)
    assert read_bundle(path, with_extra=False).extra == {}
    resumed = read_bundle(path).extra
    assert resumed["epoch"] == 3 and torch.equal(resumed["optimizer"]["state"], torch.ones(1000))


def test_an_ensemble_member_without_its_weights_is_one_clear_line(tmp_path):
    from tests.core.inference.conftest import make_bundle

    full = make_bundle(tmp_path / "ensemble.pt", "efficientnet-lite-ensemble-probe", weights="none", image_size=64,
                       view_size=32)
    lost = tampered(full, tmp_path / "lost.pt",
                    state=lambda s: {k: v for k, v in s.items() if not k.startswith("members.1.embedding.head.")})
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg((96, 72)))
    line = one_line_error(cli("predict", "--model", lost, photo))
    assert "weights do not fit" in line and "missing tensor 'members.1.embedding.head." in line
