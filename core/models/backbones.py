"""Pretrained backbones, weight loading, and the frozen-trunk + trainable-head split every transfer model uses.

A transfer model is ``FrozenTrunkNet(frozen, head)``: `frozen` (e.g. ResNet50 stem + layer1-3) never
trains and stays in eval mode (batch-norm statistics keep their ImageNet values), `head` is everything
that learns. The split is what lets `core.training.cache` compute the frozen outputs once and train
later epochs on `head` alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GeoSpottrError
from .preprocessing import resample_matrix

#: Channels of ResNet50's layer4 (the probes' and the seed design's feature width).
RESNET50_FEATURES = 2048


def resize_antialiased(x: torch.Tensor, size: int) -> torch.Tensor:
    """An ``(..., H, W)`` batch resized to ``size x size``, antialiased bilinear (Pillow's filter).

    PyTorch's own kernel, except while exporting to ONNX (its exporter has no antialiased resize): then
    two MatMuls with `core.models.preprocessing.resample_matrix`, the same weights (they agree to 1e-6)."""
    h, w = (int(n) for n in x.shape[-2:])  # plain ints: the ONNX tracer hands out sizes as tensors
    if (h, w) == (size, size):
        return x
    if not torch.onnx.is_in_onnx_export():
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    rows = torch.tensor(resample_matrix(h, size), dtype=x.dtype, device=x.device)
    cols = rows if w == h else torch.tensor(resample_matrix(w, size), dtype=x.dtype, device=x.device)
    return rows @ x @ cols.T


class FrozenTrunkNet(nn.Module):
    """``head(frozen(x))`` with `frozen`'s parameters fixed and its batch norm kept in eval mode."""

    def __init__(self, frozen: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.frozen = frozen
        self.head = head
        for p in self.frozen.parameters():
            p.requires_grad_(False)
        self.frozen.eval()

    def train(self, mode: bool = True) -> "FrozenTrunkNet":
        super().train(mode)
        self.frozen.eval()  # frozen stages must not drift their BN statistics towards a tiny dataset
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.frozen(x))


def offline_hint(arch: str) -> str:
    return (f"could not get the ImageNet weights for {arch} (no internet?): pass --weights PATH to a local "
            f"weights file, --weights none, or use --arch efficientnet-lite0 (its weights ship with GeoSpottr)")


class WeightsUnavailable(GeoSpottrError):
    """ImageNet weights that must be downloaded could not be; `arch` names the model, so a front end can
    say what to do in its own terms (the message gives the command-line flags)."""

    def __init__(self, arch: str) -> None:
        super().__init__(offline_hint(arch))
        self.arch = arch


def _check_download(url: str, arch: str) -> None:
    """Before torch downloads `url` into its cache (printing its own "Downloading: ..." line), make sure the
    server answers: offline, the user sees only our one-line hint."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlsplit(url).path).name
    if cached.is_file():
        return
    from ..network import check_reachable  # requests: a tenth of a second every prediction would pay for nothing
    try:
        check_reachable(url)
    except GeoSpottrError:
        raise WeightsUnavailable(arch) from None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A plain state dict from a local file (``torch.load(weights_only=True)``; a ``state_dict`` key is unwrapped)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GeoSpottrError(f"weights file {path} not found (use --weights imagenet, none or a .pth path)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise GeoSpottrError(f"{path}: not a loadable weights file ({str(exc).splitlines()[0][:120]})") from None
    if isinstance(data, Mapping) and "state_dict" in data and isinstance(data["state_dict"], Mapping):
        data = data["state_dict"]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise GeoSpottrError(f"{path}: not a state dict of tensors")
    return dict(data)


def load_backbone_weights(module: nn.Module, state: Mapping[str, torch.Tensor], source: str,
                          ignore_prefixes: tuple[str, ...] = ()) -> None:
    """Load `state` into `module`, allowing only the classifier keys in `ignore_prefixes` to differ."""
    state = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(ignore_prefixes)]
    if missing or unexpected:
        raise GeoSpottrError(f"{source}: weights do not fit this backbone "
                             f"({len(missing)} missing, {len(unexpected)} unexpected keys, e.g. {(missing + unexpected)[0]})")


def resnet50(weights: str | None) -> nn.Module:
    """A torchvision ResNet50: ``imagenet`` (downloaded once into $TORCH_HOME), ``none``, or a local .pth path."""
    import torchvision

    if weights in (None, "none"):
        return torchvision.models.resnet50(weights=None)
    if weights == "imagenet":
        pretrained = torchvision.models.ResNet50_Weights.IMAGENET1K_V2
        _check_download(pretrained.url, "resnet50")
        try:
            return torchvision.models.resnet50(weights=pretrained)
        except Exception:  # noqa: BLE001 - URLError, SSL, HTTP, a truncated cache file: all mean "no weights"
            raise WeightsUnavailable("resnet50") from None
    net = torchvision.models.resnet50(weights=None)
    load_backbone_weights(net, read_state_dict(weights), str(weights), ignore_prefixes=("fc.",))
    return net


def resnet50_trunk(weights: str | None) -> tuple[nn.Sequential, nn.Module]:
    """(frozen stem + layer1-3, trainable layer4) of a ResNet50."""
    net = resnet50(weights)
    frozen = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3)
    return frozen, net.layer4
