"""Peak memory of decoding hostile images (issue 24 item 5): each file is decoded by `validate_bytes` in
a fresh interpreter, whose peak RSS (VmHWM, Linux) is printed beside the outcome and a baseline interpreter
that only imports `core.imaging` and reads the file.

    .venv/bin/python benchmarks/bench_decode_memory.py              # this checkout
    git archive HEAD~1 core | tar -x -C /tmp/old && .venv/bin/python benchmarks/bench_decode_memory.py --tree /tmp/old

The files are small on disk (compressed zeros, patched headers) and claim large decoded sizes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.adversarial.hostile import encoded, flat_jpeg, png_zeros, progressive_jpeg_claiming  # noqa: E402

CHILD = """
import sys
from core.imaging import ImageError, validate_bytes
data = open(sys.argv[1], "rb").read()
outcome = "read only"
if sys.argv[2] == "decode":
    try:
        valid = validate_bytes(data, "file")
        outcome = f"stored {valid.width}x{valid.height}"
    except ImageError as exc:
        outcome = "refused: " + str(exc).split(": ", 1)[1][:70]
with open("/proc/self/status") as fh:  # VmHWM: this process's peak (ru_maxrss would include the parent's)
    peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(peak // 1024, outcome)
"""


def cases() -> dict[str, bytes]:
    return {
        "16-bit grey PNG 10900x10900": png_zeros(10900, 10900, 16, 0),
        "RGBA PNG 7000x7000": png_zeros(7000, 7000, 8, 6),
        "RGBA PNG 6000x6000": png_zeros(6000, 6000, 8, 6),
        "lossless WebP RGBA 6000x6000": encoded("RGBA", (6000, 6000), "WEBP", lossless=True),
        "float TIFF 6000x6000": encoded("F", (6000, 6000), "TIFF", compression="tiff_adobe_deflate"),
        "progressive JPEG claiming 30000x30000": progressive_jpeg_claiming(30000, 30000),
        # within the budget: what a real photo of these formats costs
        "16-bit grey PNG 6000x6000": png_zeros(6000, 6000, 16, 0),
        "RGBA PNG 5000x5000": png_zeros(5000, 5000, 8, 6),
        "baseline JPEG 12000x9000 (108 MP)": flat_jpeg((12000, 9000)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="a folder holding the core/ package to measure")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.tree.resolve())}
    print(f"{'input':<40}{'file KB':>9}{'peak MB':>9}{'baseline':>9}  outcome")
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in cases().items():
            path = Path(tmp) / "input"
            path.write_bytes(data)
            runs = [subprocess.run([sys.executable, "-c", CHILD, str(path), kind], env=env, cwd=tmp,
                                   capture_output=True, text=True, timeout=300) for kind in ("decode", "read")]
            if runs[0].returncode != 0:
                print(f"{name:<40}{len(data) // 1024:>9}  crashed: {runs[0].stderr.strip().splitlines()[-1:]}")
                continue
            peak, outcome = runs[0].stdout.split(" ", 1)
            base = runs[1].stdout.split(" ", 1)[0]
            print(f"{name:<40}{len(data) // 1024:>9}{peak:>9}{base:>9}  {outcome.strip()}")


if __name__ == "__main__":
    main()
