"""Widgets and helpers the workspaces share (plots, the map, photos, dialogs, layouts, heat-map jobs); they
import no workspace package."""
