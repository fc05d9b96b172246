"""Fixtures for the training tests: a tiny project built once per module, trainer helpers."""

from __future__ import annotations

import pytest

from tests.conftest import build_tiny_project


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every training test runs on one core (see `one_torch_thread`)."""


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    """4 cities x 10 photos (64x48): 32 train / 8 val images (location-grouped split)."""
    project = build_tiny_project(tmp_path_factory.mktemp("train"), per_city=10, size=(64, 48))
    yield project
    project.close()

