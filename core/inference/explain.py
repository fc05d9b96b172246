"""Why the model chose a city: a heat map over the photo of the regions that drove the guess.

Two methods, one result (`Explanation`, the map at the photo's own size):

* **Grad-CAM** (Selvaraju et al. 2017) on the last convolutional stage that still maps onto the photo:
  ResNet50's layer4 for ``geospottr``, ``geospottr-map`` and ``resnet50-linear``, the 1x1 head conv for
  ``efficientnet-lite0`` and for a probe on an EfficientNet-Lite (layer4 for the ResNet50 probe), the
  second conv stage for ``baseline``. One forward and one partial backward pass, so it is cheap enough
  to run for every photo of a split (`core.evaluation.shortcuts`). For ``geospottr`` the custom CNN after layer4
  sees only a pooled vector, so layer4 is the last place where "where" exists.
* **Ensembles** (``efficientnet-lite-ensemble-probe``): every CNN member's last conv stage is a Grad-CAM
  layer. The explained score is the fused score before its normalisation: the members' raw class scores
  (logits) weighted as the fusion weights them (1/M each; the fused log-probability is this minus the
  members' mean log-normaliser, whose gradient vanishes when the ensemble is sure, as any
  log-probability's does). Each member's map ``sum_k alpha_k A_k`` takes the gradient of that one
  score, so the member's fusion weight and how strongly its own score moved on this photo are both in
  it; the maps are resized to the finest member grid, summed, and only then clipped at 0 (the Grad-CAM
  of the fused score over all members' channels at once). A member without a conv map (the colour
  statistics: numbers over whole bands of the frame, not places in it) adds nothing to the map; its
  share of the decision shows in the probabilities.
* **Occlusion sensitivity** (Zeiler & Fergus 2014) for any other model, or when Grad-CAM finds no
  positive evidence: grey out one window of a grid at a time and measure how much the city's
  log-probability drops. Model-agnostic, about 50 forward passes; it reports its progress and the time
  left as it goes (events with scope ``"explain"``).

`versus` makes it contrastive ("why Rijeka rather than Split"): the explained score is then the logit
difference of the two cities, so the map shows what speaks for the first *against* the second.

The map covers only the part of the photo the model saw (`core.training.transforms.input_box`: the
bundle's bottom crop, then the centred square); it is zero elsewhere. TTA is not used here: the map
explains the plain image. The result type and its drawing are torch-free (`core.inference.heatmaps`), so the GUI's
UI thread can redraw an overlay at another opacity without loading torch.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..errors import GeoSpottrError
from ..events import PROGRESS, Event, EventCallback, ignore_events
from ..models.preprocessing import input_box
from ..names import did_you_mean, fold
from .heatmaps import Explanation
from .results import ImageSource, source_name

if TYPE_CHECKING:
    from .prediction import Predictor

METHODS = ("auto", "grad-cam", "occlusion")
#: Occlusion grid: OCCLUSION_GRID x OCCLUSION_GRID window centres, each window twice the cell size.
OCCLUSION_GRID = 7
OCCLUSION_BATCH = 16


# ---------------------------------------------------------------------- saliency
def _resnet_layer4(module: nn.Module) -> bool:
    """Whether `module` is a ResNet50 layer4 (a Sequential of torchvision Bottlenecks). Only a model built
    from torchvision's ResNet has one, and building it imported torchvision: when that is not loaded
    there is nothing to look for, and explaining a Lite model keeps torchvision out of the process."""
    resnet = sys.modules.get("torchvision.models.resnet")
    return (resnet is not None and isinstance(module, nn.Sequential) and len(module) > 0
            and isinstance(module[-1], resnet.Bottleneck))


def _probe_layer(probe: nn.Module) -> nn.Module | None:
    """A probe's Grad-CAM layer: its backbone's last conv stage, when its one view is the whole frame
    (crops or a mirrored view would each need their own map); none for a backbone without convolutions
    (a CLIP vision transformer: `clip_probe`)."""
    head = getattr(probe.embedding, "head", None)
    if tuple(probe.views) != ("full",) or probe.flip or head is None:
        return None
    if hasattr(head, "conv_head"):
        return head.conv_head
    return head if _resnet_layer4(head) else None


def cam_layers(model: nn.Module) -> list[nn.Module]:
    """The last conv stage(s) of `model` whose output still lies over the photo: one per CNN member of an
    ensemble probe, one for any other model that has one, none (use occlusion) otherwise."""
    from ..models.backbones import FrozenTrunkNet
    from ..models.baseline import BaselineCNN
    from ..models.efficientnet_lite import Lite0Head
    from ..models.probe import EnsembleProbeNet, ProbeNet

    if isinstance(model, BaselineCNN):
        return [model.features[5]]  # second conv + ReLU + pool; the adaptive pool after it only resamples
    if isinstance(model, EnsembleProbeNet):
        return [layer for layer in map(_probe_layer, model.members) if layer is not None]
    if isinstance(model, ProbeNet):
        layer = _probe_layer(model)
        return [layer] if layer is not None else []
    if isinstance(model, FrozenTrunkNet):
        head = model.head
        if isinstance(head, Lite0Head):
            return [head.conv_head]
        first = head[0] if isinstance(head, nn.Sequential) and len(head) else None
        if first is not None and _resnet_layer4(first):
            return [first]  # ResNet50 layer4 (7x7 at 224 px)
    return []


def _target_scores(logits: torch.Tensor, targets: torch.Tensor, versus: torch.Tensor | None,
                   log_prob: bool) -> torch.Tensor:
    """Per-image score to explain: the city's logit margin over `versus`, else its log-probability
    (`log_prob`, occlusion) or its raw logit (Grad-CAM: the gradient of a log-probability near 1 is about
    zero and mostly noise, which is why Grad-CAM is defined on the pre-softmax score)."""
    own = logits.gather(1, targets[:, None])[:, 0]
    if versus is not None:
        return own - logits.gather(1, versus[:, None])[:, 0]
    return own - torch.logsumexp(logits, dim=1) if log_prob else own


def _scores(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the model's output, the pre-softmax scores Grad-CAM explains): the same tensor for one network;
    for an ensemble probe its fused log-probabilities and the fusion-weighted members' logits."""
    from ..models.probe import EnsembleProbeNet

    if isinstance(model, EnsembleProbeNet):
        members = model.member_logits(x)
        return model.fuse(members).float(), torch.stack(members).mean(dim=0).float()
    logits = model(x).float()
    return logits, logits


def grad_cam(model: nn.Module, layers: Sequence[nn.Module], batch: torch.Tensor, targets: torch.Tensor | None = None,
             versus: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cams (N, h, w) >= 0, logits (N, classes))`` for a normalised batch.

    `layers`: one Grad-CAM layer, or one per member of an ensemble (the module docstring gives the rule
    that combines them). `targets` None explains each image's top class. Images are independent (eval
    mode), so one backward pass of the summed scores gives every image's own gradients.
    """
    store: dict[int, torch.Tensor] = {}
    me = threading.get_ident()
    handles = []
    for k, layer in enumerate(layers):
        def keep(_module: nn.Module, _inputs: object, out: torch.Tensor, k: int = k) -> None:
            if threading.get_ident() == me:  # a prediction running in another thread passes the same layer
                store[k] = out
        handles.append(layer.register_forward_hook(keep))
    try:
        with torch.enable_grad():
            x = batch.detach().requires_grad_(True)  # activations need a graph even behind frozen stages
            logits, explained = _scores(model, x)
            if targets is None:
                targets = logits.detach().argmax(1)
            score = _target_scores(explained, targets, versus, log_prob=False).sum()
            acts = [store[k] for k in range(len(layers))]
            grads = torch.autograd.grad(score, acts)
    finally:
        for handle in handles:
            handle.remove()
    grid = max((a.shape[-2:] for a in acts), key=lambda hw: hw[0] * hw[1])
    total = None
    for act, grad in zip(acts, grads):
        cam = (grad.float().mean(dim=(2, 3), keepdim=True) * act.detach().float()).sum(dim=1)
        if cam.shape[-2:] != grid:
            cam = F.interpolate(cam[:, None], size=tuple(grid), mode="bilinear", align_corners=False)[:, 0]
        total = cam if total is None else total + cam
    return torch.relu(total), logits.detach()


@torch.no_grad()
def occlusion(model: nn.Module, batch: torch.Tensor, target: int, versus: int | None = None,
              grid: int = OCCLUSION_GRID, on_event: EventCallback = ignore_events) -> torch.Tensor:
    """``(grid, grid)`` drop of the score when a window around each cell is set to 0 (the dataset mean
    after normalisation) for one normalised image ``(1, 3, S, S)``; negative drops count as 0.

    Slow for a big model (about 50 forward passes), so it reports each chunk of windows with the time
    left, measured from the chunks so far (`Event` ``PROGRESS``, scope ``"explain"``)."""
    size = batch.shape[-1]
    cell = size / grid
    t = torch.tensor([target], device=batch.device)
    v = torch.tensor([versus], device=batch.device) if versus is not None else None
    base = _target_scores(model(batch).float(), t, v, log_prob=True)[0]
    windows = []
    for i in range(grid):
        for j in range(grid):
            top, left = max(0, int((i - 0.5) * cell)), max(0, int((j - 0.5) * cell))
            windows.append((top, min(size, int((i + 1.5) * cell)), left, min(size, int((j + 1.5) * cell))))
    drops = []
    started = time.monotonic()
    for start in range(0, len(windows), OCCLUSION_BATCH):
        chunk = windows[start:start + OCCLUSION_BATCH]
        occluded = batch.repeat(len(chunk), 1, 1, 1)
        for k, (t0, t1, l0, l1) in enumerate(chunk):
            occluded[k, :, t0:t1, l0:l1] = 0
        scores = _target_scores(model(occluded).float(), t.expand(len(chunk)),
                                v.expand(len(chunk)) if v is not None else None, log_prob=True)
        drops.append(base - scores)
        done = start + len(chunk)
        remaining = (time.monotonic() - started) / done * (len(windows) - done)
        on_event(Event(PROGRESS, f"occlusion map: {done} of {len(windows)} windows, about {remaining:.0f} s left",
                       done=done, total=len(windows), scope="explain"))
    return torch.relu(torch.cat(drops)).view(grid, grid)


def to_photo(saliency: torch.Tensor, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """A low-resolution map stretched over `box` of a photo of `size` (width, height): float32, max 1."""
    left, top, right, bottom = box
    width, height = size
    stretched = F.interpolate(saliency[None, None].float().cpu(), size=(bottom - top, right - left),
                              mode="bilinear", align_corners=False)[0, 0].clamp_min(0).numpy()
    out = np.zeros((height, width), dtype=np.float32)
    out[top:bottom, left:right] = stretched
    peak = float(out.max())
    return out / peak if peak > 0 else out


def class_index(predictor: Predictor, city: str | int) -> int:
    """The model's output index of `city` (slug, name or index)."""
    if isinstance(city, int):
        if not 0 <= city < len(predictor.classes):
            raise GeoSpottrError(f"class index {city} out of range (the model has {len(predictor.classes)} cities)")
        return city
    key = fold(city)
    for i, c in enumerate(predictor.classes):
        if key in (c.slug, fold(c.name)):
            return i
    slugs = [c.slug for c in predictor.classes]
    near = did_you_mean(city, slugs) or f" ({', '.join(slugs)})"
    raise GeoSpottrError(f"{city!r} is not one of this model's cities{near}")


def _one(index: int | None, device: torch.device) -> torch.Tensor | None:
    return None if index is None else torch.tensor([index], device=device)


def explain(predictor: Predictor, source: ImageSource, city: str | int | None = None,
            versus: str | int | None = None, method: str = "auto",
            on_event: EventCallback | None = None) -> Explanation:
    """The heat map for `city` (slug, name or index; default: the top guess) in one photo.

    `versus` (a city) makes it contrastive; `method` is ``auto`` (Grad-CAM when the architecture has a
    usable conv stage and it finds evidence, else occlusion), ``grad-cam`` or ``occlusion``.
    Raises `ImageError` for an unusable photo and `GeoSpottrError` for an unknown city or method.
    `on_event` hears the occlusion fallback's progress and time left.
    """
    if method not in METHODS:
        raise GeoSpottrError(f"method must be one of {', '.join(METHODS)}")
    wanted = None if city is None else class_index(predictor, city)
    other = None if versus is None else class_index(predictor, versus)
    image = predictor.open(source, draft=False)
    batch = predictor.batch([image])
    model = predictor.model
    layers = cam_layers(model) if method != "occlusion" else []
    if method == "grad-cam" and not layers:
        raise GeoSpottrError(f"Grad-CAM does not apply to architecture {predictor.meta.arch!r}; use occlusion")
    saliency, used = None, "occlusion"
    if layers:  # one forward pass gives the guess and the map (targets None: the top guess)
        cams, logits = grad_cam(model, layers, batch, _one(wanted, batch.device), _one(other, batch.device))
        if float(cams.max()) > 0 or method == "grad-cam":
            saliency, used = cams[0], "grad-cam"
    else:
        with torch.no_grad():
            logits = model(batch).float()
    probs = torch.softmax(logits, dim=1)[0].cpu().double().numpy()
    target = int(np.argmax(probs)) if wanted is None else wanted
    if other == target:
        raise GeoSpottrError("explaining a city against itself shows nothing: choose two different cities")
    if saliency is None:
        saliency = occlusion(model, batch, target, other, on_event=on_event or ignore_events)
    box = input_box(image.width, image.height, predictor.meta.crop_bottom)
    ranking = {c.slug: c for c in predictor.rank(probs, 0)}
    return Explanation(source=source_name(source), image=image, heatmap=to_photo(saliency, box, image.size),
                       city=ranking[predictor.classes[target].slug],
                       versus=ranking[predictor.classes[other].slug] if other is not None else None,
                       method=used, box=box)


def explain_batch(predictor: Predictor, images: Sequence[Image.Image]) -> tuple[list[np.ndarray], np.ndarray]:
    """Maps of each image's top guess at the image's size, and the ``(N, classes)`` probabilities.

    The fast path for a whole split (`core.evaluation.shortcuts`): one batched Grad-CAM pass; images it finds no
    positive evidence in, and every image of a model without a Grad-CAM layer, get occlusion maps.
    """
    model = predictor.model
    batch = predictor.batch(images)
    layers = cam_layers(model)
    if layers:
        cams, logits = grad_cam(model, layers, batch)
        found = [c if float(c.max()) > 0 else None for c in cams]
    else:
        with torch.no_grad():
            logits = model(batch).float()
        found = [None] * len(images)
    maps = []
    for i, (img, cam) in enumerate(zip(images, found)):
        if cam is None:  # no Grad-CAM layer, or no positive evidence there: occlusion, as `explain` does
            cam = occlusion(model, batch[i:i + 1], int(logits[i].argmax()))
        maps.append(to_photo(cam, input_box(img.width, img.height, predictor.meta.crop_bottom), img.size))
    return maps, torch.softmax(logits, dim=1).cpu().double().numpy()
