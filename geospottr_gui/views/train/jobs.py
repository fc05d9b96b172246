"""The Train workspace's worker jobs: the only place it reaches torch (through core), off the UI thread."""

from __future__ import annotations

import sys
from typing import Any

from core.data.project import Project
from core.errors import GeoSpottrError
from core.events import WARNING, Control, Event

#: The model whose ImageNet weights ship inside GeoSpottr (offered when another model's cannot be downloaded).
OFFLINE_MODEL = "efficientnet-lite0"


def probe_job(*, on_event: Any, control: Control) -> dict[str, Any]:
    """What the form offers: registered models, available devices and the trainer's default settings."""
    from core import devices
    from core.models import registry
    from core.training.probe import PROBE_OF
    from core.training.trainer import TrainConfig

    models = []
    for name in registry.names():
        spec = registry.spec(name)
        models.append({"name": name, "description": spec.description, "image_size": spec.default_image_size,
                       "pretrained_note": spec.pretrained_note})
    return {"models": models, "defaults": TrainConfig(), "devices": devices.available(),
            "cuda_name": devices.cuda_name(), "probe_of": dict(PROBE_OF)}


def estimate_job(project: Project, config: dict[str, Any], *, on_event: Any, control: Control) -> str | None:
    """The trainer's up-front warning for a run of `config` without a time budget (`costs.plan`: measured
    costs, kept a day), or None when it is predicted to take under an hour."""
    from core.devices import pick_device
    from core.fsutil import safe_child
    from core.training import costs
    from core.training.data import load_training_data
    from core.training.trainer import TrainConfig

    cfg = TrainConfig.from_dict(config)
    classes, train, val = load_training_data(project)
    return costs.plan(cfg, train, val, len(classes), pick_device(cfg.device), safe_child(project.cache_dir, "costs.json"))


def train_job(project: Project, config: dict[str, Any] | None, resume: str | None,
              overrides: dict[str, Any] | None, *, on_event: Any, control: Control) -> Any:
    """Run `core.training.trainer.train` and give cached GPU memory back when it ends, however it ends.

    Weights that cannot be downloaded fail with advice in this window's terms (the core's names CLI
    flags), after a ``weights`` warning event that lets the view offer the offline model in one click.
    """
    from core.models.backbones import WeightsUnavailable
    from core.training.trainer import TrainConfig, train

    try:
        cfg = TrainConfig.from_dict(config) if config is not None else None
        return train(project, cfg, on_event, control, resume=resume, overrides=overrides)
    except WeightsUnavailable as exc:
        on_event(Event(WARNING, "ImageNet weights unavailable", scope="weights", data={"backbone": exc.arch}))
        raise GeoSpottrError(
            f"the ImageNet weights for {exc.arch} could not be downloaded (no internet?). Choose "
            f"Pretrained weights \"File…\" for a copy on this computer, \"None (random init)\", or the model "
            f"{OFFLINE_MODEL}, whose weights ship with GeoSpottr.") from None
    finally:
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
