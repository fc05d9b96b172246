"""Training: data from the project split, transforms, feature cache, the trainer, run folders, DDP."""
