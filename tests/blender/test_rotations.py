"""mapping/rotations.py, the add-on's one rotation module, against mathutils (Blender's own)."""

from __future__ import annotations

import bpy  # noqa: F401  -- bpy makes mathutils importable
import numpy as np
import pytest
from mathutils import Euler, Quaternion

from face_mocap.mapping import rotations

MATHUTILS_EPS = 1e-6  # mathutils works in float32
ORDERS = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


def same_rotation(a, b) -> bool:
    return abs(Quaternion(a).normalized().dot(Quaternion(b).normalized())) == pytest.approx(1.0, abs=MATHUTILS_EPS)


@pytest.mark.parametrize("order", ORDERS)
def test_euler_quaternion_and_matrix_match_mathutils_in_every_order(order):
    angles = np.random.default_rng(1).uniform(-np.pi, np.pi, (50, 3))
    quats = rotations.euler_to_quaternion(angles, order)
    matrices = rotations.euler_to_matrix(angles, order)
    back = rotations.matrix_to_euler(matrices, order)
    for angle, quat, matrix, again in zip(angles, quats, matrices, back):
        want = Euler(angle, order)
        assert same_rotation(quat, want.to_quaternion())
        assert np.allclose(matrix, np.array(want.to_matrix()), atol=MATHUTILS_EPS)
        assert same_rotation(Euler(again, order).to_quaternion(), want.to_quaternion())
        assert abs(again["XYZ".index(order[1])]) <= np.pi / 2 + 1e-12  # the middle angle's range


def test_rotation_vectors_axis_angle_and_quaternions_match_mathutils():
    rng = np.random.default_rng(2)
    vectors = rng.uniform(-2.0, 2.0, (50, 3))
    vectors[0] = 0.0
    vectors[1] = (1e-10, 0.0, 0.0)
    quats = rotations.rotation_vector_to_quaternion(vectors)
    for vector, quat in zip(vectors, quats):
        angle = np.linalg.norm(vector)
        want = Quaternion(vector / angle, angle) if angle > 0 else Quaternion()
        assert same_rotation(quat, want)
    back = rotations.quaternion_to_rotation_vector(quats)
    assert same_rotation(rotations.rotation_vector_to_quaternion(back)[5], quats[5])
    for quat, (angle, *axis) in zip(quats, rotations.quaternion_to_axis_angle(quats)):
        assert same_rotation(Quaternion(axis, angle), quat) and 0.0 <= angle <= np.pi + 1e-12
        assert same_rotation(rotations.axis_angle_to_quaternion([angle, *axis])[0], quat)


def test_a_rotation_vector_changes_frame_linearly_and_scales_as_a_slerp():
    rng = np.random.default_rng(4)
    frame = np.array(Euler(rng.uniform(-np.pi, np.pi, 3)).to_matrix())
    vector = rng.uniform(-0.8, 0.8, 3)
    rotation = Quaternion(rotations.rotation_vector_to_quaternion(vector)[0]).to_matrix()
    local = Quaternion(rotations.rotation_vector_to_quaternion(frame.T @ vector)[0]).to_matrix()
    assert np.allclose(np.array(local), frame.T @ np.array(rotation) @ frame, atol=MATHUTILS_EPS)
    whole = Quaternion(rotations.rotation_vector_to_quaternion(vector)[0])
    part = Quaternion(rotations.rotation_vector_to_quaternion(0.4 * vector)[0])
    assert same_rotation(part, Quaternion().slerp(whole, 0.4))


def test_continuous_quaternions_only_flip_signs():
    rng = np.random.default_rng(3)
    quats = rotations.euler_to_quaternion(np.cumsum(rng.uniform(-0.3, 0.3, (200, 3)), axis=0))
    quats *= rng.choice([-1.0, 1.0], (200, 1))
    smooth = rotations.continuous_quaternions(quats, reference=np.array([-1.0, 0.0, 0.0, 0.0]))
    assert np.allclose(np.abs(smooth), np.abs(quats))
    assert np.all(np.einsum("ij,ij->i", smooth[1:], smooth[:-1]) > 0.0) and smooth[0, 0] < 0.0


@pytest.mark.parametrize("order", ORDERS)
def test_continuous_euler_never_jumps_and_matches_mathutils_compatible_angles(order):
    """Two turns about a tilted axis, through gimbal lock: every frame the same rotation,
    and each within a small step of the one before, like Euler.to_euler(order, compatible)."""
    t = np.linspace(0.0, 4.0 * np.pi, 400)[:, None]
    axis = np.array([0.3, 0.9, -0.3]) / np.linalg.norm([0.3, 0.9, -0.3])
    quats = rotations.rotation_vector_to_quaternion(t * axis)
    start = np.array([0.0, 0.0, 2.0 * np.pi])  # an equivalent of rest, one turn around
    angles = rotations.continuous_euler(quats, order, start)
    assert np.abs(np.diff(angles, axis=0)).max() < 0.5 and np.abs(angles[0] - start).max() < 0.1
    previous = Euler(start, order)
    for quat, angle in zip(quats, angles):
        assert same_rotation(Euler(angle, order).to_quaternion(), quat)
        previous = Quaternion(quat).to_euler(order, previous)
        assert np.allclose(angle, previous, atol=1e-4)


@pytest.mark.parametrize("order", ["XYZ", "YZX"])
def test_a_long_take_converts_in_blocks_to_the_angles_of_one_pass(order):
    """20,000 frames (three blocks) of a head turning 30 times about a wobbling axis: the
    blocks continue each other, so the angles are those of converting every frame at once."""
    t = np.linspace(0.0, 60.0 * np.pi, 20_000)[:, None]
    axis = np.column_stack([0.3 + 0.2 * np.sin(t[:, 0] / 7), np.full(len(t), 0.9), -0.3 * np.cos(t[:, 0] / 5)])
    quats = rotations.rotation_vector_to_quaternion(t * axis / np.linalg.norm(axis, axis=1, keepdims=True))
    assert len(quats) > 2 * rotations._EULER_BLOCK
    start = np.array([0.0, 0.0, 2.0 * np.pi])
    angles = rotations.continuous_euler(quats, order, start)
    np.testing.assert_allclose(angles, rotations._continuous_euler(quats, order, start), rtol=0, atol=1e-9)
    assert np.ptp(angles) > 20 * np.pi  # the turns add up across the blocks


@pytest.mark.parametrize("mode", ["QUATERNION", "AXIS_ANGLE", "XYZ", "ZXY"])
def test_bone_rotation_channels_hold_the_rotation_in_each_mode(mode):
    quats = rotations.euler_to_quaternion(np.random.default_rng(5).uniform(-1, 1, (20, 3)))
    current = {"QUATERNION": (-1.0, 0, 0, 0), "AXIS_ANGLE": (0.0, 0, 1, 0)}.get(mode, (0.0, 0, 0))
    values = rotations.bone_rotation_channels(quats, mode, current)
    back = [rotations.bone_rotation_quaternion(mode, v[:3], v, v) for v in values]
    assert all(same_rotation(b, q) for b, q in zip(back, quats))
    if mode == "QUATERNION":
        assert values[0, 0] < 0.0  # continuous from the bone's present value
