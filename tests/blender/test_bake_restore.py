"""Live preview on a rig (apply_frame) and snapshot/restore, in real bpy."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from mathutils import Euler, Quaternion

from bake_scene import face_mocap_rig, reset, rotation_vector
from face_mocap.ui import rig_apply

HEAD_YAW = ("bone", "Rig", "head", "rotation_euler", 2)


@pytest.fixture(autouse=True)
def fresh_file():
    reset()


def rig_state() -> dict:
    """Every value a preview could disturb, on every object: pose, shape keys, custom properties."""
    state = {}
    for obj in bpy.data.objects:
        state[obj.name, "props"] = {k: rig_apply._plain(v) for k, v in obj.items()}
        if obj.type == "ARMATURE":
            for bone in obj.pose.bones:
                state[obj.name, bone.name] = (bone.rotation_mode, tuple(bone.rotation_euler),
                                              tuple(bone.rotation_quaternion), tuple(bone.rotation_axis_angle),
                                              tuple(bone.location), tuple(bone.scale))
        elif obj.data.shape_keys is not None:
            state[obj.name, "keys"] = [(k.name, k.value) for k in obj.data.shape_keys.key_blocks]
    return state


def preview_targets() -> list[tuple]:
    return [("shape_key", "Face", "jawOpen"), ("shape_key", "Face", "mouthSmileLeft"),
            ("bone", "Rig", "head", "rotation_euler", 0), HEAD_YAW, ("bone", "Rig", "neck", "rotation_euler", 1),
            ("bone", "Rig", "jaw", "rotation_euler", "X"), ("bone", "Rig", "eye.L", "location", 2),
            ("prop", "Rig", "mouth"), ("prop", "Rig", "existing")]


def posed_rig():
    face, rig = face_mocap_rig(rotation_modes={"head": "QUATERNION", "neck": "AXIS_ANGLE", "jaw": "YXZ"})
    face.data.shape_keys.key_blocks["jawOpen"].value = 0.3
    rig.pose.bones["head"].rotation_quaternion = Euler((0.1, -0.2, 0.3)).to_quaternion()
    rig.pose.bones["neck"].rotation_axis_angle = (0.4, 0.0, 0.6, 0.8)
    rig.pose.bones["jaw"].rotation_euler = (0.05, 0.1, 0.0)
    rig.pose.bones["eye.L"].location = (0.0, 0.01, 0.02)
    rig["existing"] = 2.0
    rig["array"] = [1.0, 2.0]
    return face, rig


def test_preview_frames_then_restore_leave_the_rig_exactly_as_before():
    face, rig = posed_rig()
    before = rig_state()
    snapshot = rig_apply.snapshot_rig(preview_targets())
    rng = np.random.default_rng(0)
    for _frame in range(30):
        missing = rig_apply.apply_frame({t: float(v) for t, v in zip(preview_targets(), rng.uniform(-1, 1, 9))})
        assert missing == []
    assert rig_state() != before and "mouth" in rig
    assert rig_apply.restore_rig(snapshot) == []
    assert rig_state() == before and "mouth" not in rig


def test_preview_writes_each_rotation_mode_as_the_same_rotation():
    """A bone's rotation targets are a rotation vector in its rest frame (axes not given are
    0), written in the bone's own mode."""
    _face, rig = posed_rig()
    rig_apply.apply_frame({("bone", "Rig", "head", "rotation_euler", 0): 0.5, HEAD_YAW: -0.7,
                           ("bone", "Rig", "neck", "rotation_euler", 1): 0.25,
                           ("bone", "Rig", "jaw", "rotation_euler", 0): 0.3})
    head = Quaternion(rig.pose.bones["head"].rotation_quaternion)
    assert abs(head.dot(rotation_vector((0.5, 0.0, -0.7)))) == pytest.approx(1.0, abs=1e-6)
    angle, *axis = rig.pose.bones["neck"].rotation_axis_angle
    assert abs(Quaternion(axis, angle).dot(rotation_vector((0.0, 0.25, 0.0)))) == pytest.approx(1.0, abs=1e-6)
    jaw = rig.pose.bones["jaw"].rotation_euler
    assert jaw.order == "YXZ" and abs(jaw.to_quaternion().dot(rotation_vector((0.3, 0, 0)))) == pytest.approx(1.0, abs=1e-6)



def test_a_turning_bone_does_not_drift_or_flip_over_many_frames():
    _face, rig = posed_rig()
    previous = None
    for yaw in np.linspace(-3.0, 3.0, 200):
        rig_apply.apply_frame({HEAD_YAW: yaw})
        quat = Quaternion(rig.pose.bones["head"].rotation_quaternion)
        assert previous is None or quat.dot(previous) > 0.99  # continuous: no sign flips
        previous = quat
    euler = Quaternion(rig.pose.bones["head"].rotation_quaternion).to_euler("XYZ")
    assert tuple(euler) == pytest.approx((0.0, 0.0, 3.0), abs=1e-5)


def test_frames_without_a_face_leave_targets_alone_and_missing_targets_are_named():
    face, rig = posed_rig()
    before = rig_state()
    missing = rig_apply.apply_frame({("shape_key", "Face", "jawOpen"): float("nan"), HEAD_YAW: float("nan"),
                                     ("shape_key", "Face", "noSuchShape"): 1.0,
                                     ("bone", "Gone", "head", "location", 0): 1.0, ("prop", "Gone", "x"): 1.0})
    assert rig_state() == before
    assert missing == [("shape_key", "Face", "noSuchShape"), ("bone", "Gone", "head", "location", 0),
                       ("prop", "Gone", "x")]


def test_restore_says_what_was_deleted_and_restores_the_rest():
    face, rig = posed_rig()
    snapshot = rig_apply.snapshot_rig(preview_targets())
    rig_apply.apply_frame({("shape_key", "Face", "jawOpen"): 1.0, HEAD_YAW: 1.0})
    bpy.data.objects.remove(rig)
    problems = rig_apply.restore_rig(snapshot)
    assert face.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(0.3)
    assert problems == ["object 'Rig' is gone"]
