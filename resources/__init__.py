"""Installed as the package ``geospottr_resources``: app icons and map assets shipped with GeoSpottr.

Only data lives here; find files with ``core.resources.resource_path`` rather than importing this.
"""
