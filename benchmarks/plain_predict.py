"""The peer for `bench_predict.py --table`: what a plain PyTorch script does to predict photos with a bundle.

    .venv/bin/python benchmarks/plain_predict.py BUNDLE PHOTO [PHOTO ...]

No GeoSpottr machinery beyond the architecture's own module code: ``torch.load`` the bundle, build the
model, ``load_state_dict``, torchvision's eval transform (resize, centre crop, to tensor, normalise),
batches of 16 under ``torch.inference_mode``, softmax. Prints the top class index per photo (so the work
cannot be skipped) and nothing else; time it as a whole process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torchvision.transforms as T
from PIL import Image

from core.models import registry


def main() -> int:
    bundle, photos = sys.argv[1], sys.argv[2:]
    payload = torch.load(bundle, map_location="cpu", weights_only=True)
    meta = json.loads(payload["meta"])
    model = registry.build(meta["arch"], len(meta["classes"]), weights="none", **meta["arch_kwargs"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    size = meta["image_size"]
    transform = T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor(), T.Normalize(meta["mean"], meta["std"])])
    with torch.inference_mode():
        for start in range(0, len(photos), 16):
            # formats: even a plain script names its decoders (Pillow would hand an EPS to Ghostscript)
            batch = torch.stack([transform(Image.open(p, formats=["JPEG", "PNG"]).convert("RGB"))
                                 for p in photos[start:start + 16]])
            for top in torch.softmax(model(batch), dim=1).argmax(dim=1).tolist():
                print(top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
