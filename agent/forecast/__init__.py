"""Forecast post-processing that runs in the daemon (no torch): online calibration."""
