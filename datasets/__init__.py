"""Synthetic data with exact ground truth (see :mod:`datasets.synthetic`)."""
