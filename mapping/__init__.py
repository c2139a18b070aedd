"""Mapping layer: face frames -> head pose, channels, calibration, smoothing, rig targets (pure numpy)."""
