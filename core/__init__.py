"""GeoSpottr engine: datasets, training, evaluation and prediction of a photo's city.

This package never imports Qt: the CLI (`core.cli`) and the desktop app (`geospottr_gui`) are two thin
skins over the same calls.
"""

__version__ = "0.1.0"
