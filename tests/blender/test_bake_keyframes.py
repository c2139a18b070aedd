"""The bake's numpy keyframe helpers against brute force (rotations: test_rotations.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from face_mocap.mapping import keyframes

finite = st.floats(-3.0, 3.0, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(steps=arrays(np.float64, st.integers(2, 400), elements=finite), tolerance=st.floats(0.001, 0.5))
def test_reduced_keys_reproduce_every_frame_within_tolerance(steps, tolerance):
    values = np.cumsum(steps) * 0.1  # a random walk, like noisy mocap
    frames = 1.0 + np.arange(len(values))
    kept = keyframes.reduce_keys(frames, values, tolerance)
    assert kept[0] == 0 and kept[-1] == len(values) - 1 and np.all(np.diff(kept) > 0)
    played = np.interp(frames, frames[kept], values[kept])
    assert np.max(np.abs(played - values)) <= tolerance


def test_reduction_drops_keys_on_straight_lines_and_keeps_corners():
    values = np.concatenate([np.linspace(0, 1, 50), np.linspace(1, 0, 50)[1:], np.zeros(30)])
    frames = np.arange(len(values), dtype=float)
    assert list(keyframes.reduce_keys(frames, values, 1e-6)) == [0, 49, 98, len(values) - 1]
    assert len(keyframes.reduce_keys(frames, values, 0.0)) == len(values)


def test_resampling_puts_one_value_on_every_scene_frame():
    times = 100.0 + np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    values = np.array([0.0, 1.0, np.nan, 3.0, 4.0])
    resample = keyframes.Resampler(times, fps=4.0)
    sampled = resample(values)
    assert len(sampled) == resample.frame_count == keyframes.frame_count(2.0, 4.0) == 9
    assert np.allclose(sampled, [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4])
    assert resample(np.full(5, np.nan)) is None
    assert keyframes.frame_count(10.0, 30000 / 1001) == 300
