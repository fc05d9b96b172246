"""Render resources/icons/geospottr.svg to the PNG sizes desktops and installers ask for.

Why Qt's SVG renderer: PySide6 is already a runtime dependency, so the icons can be re-made on any
machine that can run the app (offscreen too), without cairo or librsvg.

    QT_QPA_PLATFORM=offscreen python packaging/render_icons.py [--check]

``--check`` renders nothing and exits 1 if a PNG is missing or has the wrong size.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"
SVG = ICON_DIR / "geospottr.svg"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def png_path(size: int) -> Path:
    """``geospottr-<size>.png`` beside the SVG (the names packaging/linux/install.sh and the spec use)."""
    return ICON_DIR / f"geospottr-{size}.png"


def render(sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Draw the SVG at each size with antialiasing and write the PNGs atomically; returns the paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {SVG} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        target = png_path(size)
        tmp = target.with_suffix(".png.part")
        if not image.save(str(tmp), "PNG"):
            raise SystemExit(f"render_icons: cannot write {tmp}")
        os.replace(tmp, target)
        written.append(target)
    return written


def check(sizes: tuple[int, ...] = SIZES) -> list[str]:
    """Problems with the committed PNGs (missing, wrong size); empty when all is well."""
    from PIL import Image

    problems = []
    for size in sizes:
        path = png_path(size)
        if not path.is_file():
            problems.append(f"missing {path.name}")
            continue
        with Image.open(path) as img:
            if img.size != (size, size):
                problems.append(f"{path.name} is {img.size[0]}x{img.size[1]}, expected {size}x{size}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the PNGs instead of rendering them")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for line in problems:
            print(f"render_icons: {line}", file=sys.stderr)
        return 1 if problems else 0
    for path in render():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
