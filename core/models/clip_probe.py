"""`streetclip-probe`: a linear probe on a frozen CLIP vision tower trained for geolocation (StreetCLIP).

CLIP towers trained on street photos for geolocation separate regions far better than ImageNet CNNs, but
their weights come from a model hub: `pip install "geospottr[clip]"` (transformers) and either a hub name
(``--weights imagenet`` means `DEFAULT_WEIGHTS`) or a local folder saved by ``save_pretrained``
(``--weights DIR``, read offline only). Without the extra, or offline with a hub name, building fails at
once with one line that says what to install or download: the hub is asked first (`network.hub_source`,
2 s) because its own client retries for about 30 s before giving up.

The model is a `ProbeNet` whose embedding is the tower's projected image embedding; the tower's config
goes into the bundle (`rebuild_kwargs`), so a saved model is rebuilt without the hub or the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import GeoSpottrError
from .backbones import resize_antialiased
from .probe import ProbeNet

#: StreetCLIP (a CLIP ViT-L/14 at 336 px fine-tuned for geolocation) on the Hugging Face hub.
DEFAULT_WEIGHTS = "geolocal/StreetCLIP"
INSTALL = 'pip install "geospottr[clip]"'


def transformers() -> Any:
    """The transformers package, or one line saying how to install it."""
    try:
        import transformers as package
    except ImportError:
        raise GeoSpottrError(f"StreetCLIP needs the transformers package: {INSTALL}") from None
    return package


def from_pretrained(loader: Any, weights: str) -> Any:
    """`loader.from_pretrained` (a transformers model or processor class) on a local folder (offline only) or
    a hub name (``imagenet``: `DEFAULT_WEIGHTS`), the hub asked first so that offline is one line in 2 s."""
    from ..network import hub_source

    source = hub_source(DEFAULT_WEIGHTS if weights == "imagenet" else weights, DEFAULT_WEIGHTS, "a CLIP model")
    if isinstance(source, Path):
        try:
            return loader.from_pretrained(str(source), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise GeoSpottrError(f"{source}: not a CLIP model folder ({str(exc).splitlines()[0]})") from None
    return loader.from_pretrained(source)


def load_tower(weights: str, clip_config: dict[str, Any] | None) -> nn.Module:
    """The CLIP vision tower with projection: from `clip_config` with random weights (``none``: a bundle
    is about to load its own), else `from_pretrained` (a local folder or the hub)."""
    tf = transformers()
    if weights == "none":
        if clip_config is None:
            raise GeoSpottrError("streetclip-probe without weights needs the tower's config (clip_config)")
        return tf.CLIPVisionModelWithProjection(tf.CLIPVisionConfig(**clip_config))
    return from_pretrained(tf.CLIPVisionModelWithProjection, weights)


class ClipEmbedding(nn.Module):
    """The tower's projected, pooled image embedding of a view, frozen (views resized to its input size)."""

    backbone = "streetclip"
    memory_format = torch.contiguous_format

    def __init__(self, weights: str = "none", clip_config: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.tower = load_tower(weights, clip_config)
        config = self.tower.config
        self.channels = int(config.projection_dim)
        self.input_size = int(config.image_size)
        #: What rebuilds the tower without its weights' source (stored in the bundle's arch_kwargs).
        self.config_dict = {k: v for k, v in config.to_diff_dict().items()
                            if k not in ("transformers_version", "architectures", "_name_or_path")}
        for p in self.parameters():
            p.requires_grad_(False)
        # Buffers the tower keeps out of its state dict (the position ids) go into the bundle too: a bundle is
        # loaded into a model built on the meta device that takes every tensor from the file (`load_bundle`).
        for module in self.tower.modules():
            module._non_persistent_buffers_set.clear()
        self.eval()

    def train(self, mode: bool = True) -> "ClipEmbedding":
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = resize_antialiased(x, self.input_size)
        return self.tower(pixel_values=x).image_embeds


def build_streetclip_probe(num_classes: int, weights: str = "none", clip_config: dict[str, Any] | None = None,
                           **kwargs: Any) -> ProbeNet:
    model = ProbeNet(num_classes, embedding=ClipEmbedding(weights, clip_config), **kwargs)
    model.rebuild_kwargs = {"clip_config": model.embedding.config_dict}
    return model
