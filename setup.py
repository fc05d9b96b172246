"""Package list for setuptools; everything else is in pyproject.toml.

Why this file exists: pyproject's ``[tool.setuptools.packages]`` is either a fixed list or ``find``, and the
top-level ``resources/`` folder must be installed under the importable name ``geospottr_resources``
(mapped in ``[tool.setuptools.package-dir]``), which ``find`` cannot discover. Its sub-folders (icons/,
maps/, ...) are listed as namespace packages so their files ship as package data without warnings.
"""

from setuptools import find_namespace_packages, find_packages, setup

CODE = find_packages(include=["core", "core.*", "geospottr_gui", "geospottr_gui.*"])
RESOURCES = ["geospottr_resources"] + [
    f"geospottr_resources.{name}" for name in find_namespace_packages(where="resources", exclude=["*__pycache__*"])
]

setup(packages=CODE + RESOURCES)
