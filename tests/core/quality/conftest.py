"""Generated bad frames and a small project holding them, for the quality tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from tests.conftest import CROATIA_CITIES, make_photo


def street_like(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A sharp, varied frame: sky gradient, 'buildings' of random blocks, noise (a stand-in street photo)."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = np.zeros((h, w, 3), dtype=np.float64)
    img[: h // 3] = np.linspace(200, 150, h // 3)[:, None, None] * np.array([0.8, 0.9, 1.0])
    for _ in range(40):
        x0, y0 = rng.integers(0, w - 20), rng.integers(h // 4, h - 20)
        img[y0:y0 + rng.integers(10, 80), x0:x0 + rng.integers(10, 60)] = rng.uniform(30, 230, 3)
    img += rng.normal(0, 8, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def placeholder_frame(size: int = 640) -> Image.Image:
    """A Street View 'no imagery' look-alike: flat light grey, a faint text line and a small watermark."""
    img = Image.new("RGB", (size, size), (228, 227, 223))
    draw = ImageDraw.Draw(img)
    draw.text((size // 2 - 90, size // 2), "Sorry, we have no imagery here.", fill=(150, 150, 150))
    draw.text((10, size - 20), "Google", fill=(200, 200, 200))
    return img


def dark_frame(seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 25, (240, 320, 3)).astype(np.uint8), "RGB")


def bright_frame(seed: int = 2) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(245, 256, (240, 320, 3)).astype(np.uint8), "RGB")


def blurred(img: Image.Image, radius: float = 4) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(radius))


def write_project(root: Path, images: dict[str, tuple[Image.Image, str, str]], cities=CROATIA_CITIES):
    """A project holding `images` = {name: (image, city name, format)} imported through a CSV."""
    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project

    project = Project.init(root / "project", [catalog.resolve(q) for q in cities])
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (img, city, fmt) in images.items():
        path = src / f"{name}.{'png' if fmt == 'PNG' else 'jpg'}"
        img.save(path, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
        rows.append({"path": str(path), "city": city, "source_id": name})
    manifest = src / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "city", "source_id"])
        writer.writeheader()
        writer.writerows(rows)
    report = import_source(project, manifest)
    assert report.added == len(images), report.rejected
    return project


def by_name(project) -> dict[str, str]:
    """source_id (the generated name) -> image id."""
    return {r.source_id: r.id for r in project.images()}


@pytest.fixture
def bad_project(tmp_path):
    """Good frames, one of each bad kind, and duplicates (exact-pixel PNG copy, resized re-encode,
    and a copy labelled with another city)."""
    base = street_like(10, (480, 360))
    other = street_like(11)
    images = {
        **{f"good{i}": (street_like(100 + i), "Zagreb" if i % 2 else "Split", "JPEG") for i in range(6)},
        "photo": (Image.open(make_photo(tmp_path / "mk" / "p.jpg", 5, (320, 240))).convert("RGB"), "Osijek", "JPEG"),
        "placeholder": (placeholder_frame(), "Zagreb", "JPEG"),
        "dark": (dark_frame(), "Zagreb", "JPEG"),
        "bright": (bright_frame(), "Split", "JPEG"),
        "blurry": (blurred(street_like(12)), "Split", "JPEG"),
        "base": (base, "Rijeka", "JPEG"),
        "base_exact": (base, "Rijeka", "PNG"),
        "base_small": (base.resize((240, 180)), "Rijeka", "JPEG"),
        "other": (other, "Osijek", "JPEG"),
        "other_conflict": (other.resize((300, 225)), "Zagreb", "JPEG"),
    }
    project = write_project(tmp_path, images)
    yield project
    project.close()
