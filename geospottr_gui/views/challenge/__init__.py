"""The Challenge workspace: a person and the model guess the same test photos."""
