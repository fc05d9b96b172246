"""GeoSpottr desktop app: a PySide6 shell over `core` (windows, widgets, workers; no ML or I/O logic)."""
