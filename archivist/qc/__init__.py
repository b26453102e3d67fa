"""Quality control: a LUT baseline, metrics and the QC run."""
