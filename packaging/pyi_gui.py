"""PyInstaller entry for the ``GeoSpottr`` executable (same as the ``geospottr-gui`` script)."""

import sys

from geospottr_gui.app import main

sys.exit(main())
