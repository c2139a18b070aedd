"""The bake's numpy keyframe helpers against brute force and mathutils."""

from __future__ import annotations

import bpy  # noqa: F401  -- bpy makes mathutils importable
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from mathutils import Euler, Quaternion

from face_mocap.mapping import keyframes

MATHUTILS_EPS = 1e-6  # mathutils works in float32

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


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_to_quaternion_matches_mathutils(order):
    rng = np.random.default_rng(1)
    angles = rng.uniform(-np.pi, np.pi, (50, 3))
    quats = keyframes.euler_to_quaternion(angles, order)
    for angle, quat in zip(angles, quats):
        assert abs(Quaternion(quat).dot(Euler(angle, order).to_quaternion())) == pytest.approx(1.0, abs=MATHUTILS_EPS)


def test_quaternion_to_axis_angle_matches_mathutils():
    rng = np.random.default_rng(2)
    quats = keyframes.euler_to_quaternion(rng.uniform(-np.pi, np.pi, (50, 3)))
    quats[0] = (1.0, 0.0, 0.0, 0.0)
    for quat, (angle, *axis) in zip(quats, keyframes.quaternion_to_axis_angle(quats)):
        assert abs(Quaternion(axis, angle).dot(Quaternion(quat))) == pytest.approx(1.0, abs=MATHUTILS_EPS)
        assert 0.0 <= angle <= np.pi + 1e-12


def test_continuous_quaternions_only_flip_signs():
    rng = np.random.default_rng(3)
    quats = keyframes.euler_to_quaternion(np.cumsum(rng.uniform(-0.3, 0.3, (200, 3)), axis=0))
    quats *= rng.choice([-1.0, 1.0], (200, 1))
    smooth = keyframes.continuous_quaternions(quats, reference=np.array([-1.0, 0.0, 0.0, 0.0]))
    assert np.allclose(np.abs(smooth), np.abs(quats))
    assert np.all(np.einsum("ij,ij->i", smooth[1:], smooth[:-1]) > 0.0) and smooth[0, 0] < 0.0


def test_resampling_puts_one_value_on_every_scene_frame():
    times = 100.0 + np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    values = np.array([0.0, 1.0, np.nan, 3.0, 4.0])
    resample = keyframes.Resampler(times, fps=4.0)
    sampled = resample(values)
    assert len(sampled) == resample.frame_count == keyframes.frame_count(2.0, 4.0) == 9
    assert np.allclose(sampled, [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4])
    assert resample(np.full(5, np.nan)) is None
    assert keyframes.frame_count(10.0, 30000 / 1001) == 300
