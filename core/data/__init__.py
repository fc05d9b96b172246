"""The dataset: the project folder and its SQLite index, importing, curation, splits, thumbnails, export, repair.

Only `project.py` writes the images table (tests/test_architecture.py checks it); the rest reads through `Project`.
"""
