"""Fixtures for the training tests: a tiny project built once per module, trainer helpers."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import build_tiny_project


@pytest.fixture(autouse=True)
def _one_thread():
    """The test machine is shared: keep each training test on one core."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    """4 cities x 10 photos (64x48): 32 train / 8 val images (location-grouped split)."""
    project = build_tiny_project(tmp_path_factory.mktemp("train"), per_city=10, size=(64, 48))
    yield project
    project.close()

