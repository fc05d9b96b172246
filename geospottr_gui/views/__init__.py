"""Workspaces and panels of the main window; each takes the shared `AppContext` and holds widgets and wiring only."""
