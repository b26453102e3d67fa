"""Training: data, patch sampling, the run, checkpoints, models, targets, export, devices."""
