"""Live preview on a rig (apply_frame) and snapshot/restore, in real bpy."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from mathutils import Euler, Quaternion

from bake_scene import face_mocap_rig, reset, rotation_vector
from face_mocap.mapping.retarget import Target
from face_mocap.ui import rig_apply
from face_mocap.ui.targets import resolve

HEAD_YAW = Target("bone_rotation", "head", 2, "Rig")


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


def on_rig(values: dict) -> dict:
    """The values keyed by their targets resolved to the objects, as the live rig holds them."""
    found, missing = resolve(values)
    assert missing == []
    return {found[target]: value for target, value in values.items()}


def preview_targets() -> list[Target]:
    return [Target("shape_key", "jawOpen", owner="Face"), Target("shape_key", "mouthSmileLeft", owner="Face"),
            Target("bone_rotation", "head", 0, "Rig"), HEAD_YAW, Target("bone_rotation", "neck", 1, "Rig"),
            Target("bone_rotation", "jaw", 0, "Rig"), Target("bone_location", "eye.L", 2, "Rig"),
            Target("property", "mouth", owner="Rig"), Target("property", "existing", owner="Rig")]


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
    snapshot = rig_apply.snapshot_rig(on_rig(dict.fromkeys(preview_targets())))
    rng = np.random.default_rng(0)
    for _frame in range(30):
        missing = rig_apply.apply_frame(on_rig({t: float(v) for t, v in zip(preview_targets(), rng.uniform(-1, 1, 9))}))
        assert missing == []
    assert rig_state() != before and "mouth" in rig
    assert rig_apply.restore_rig(snapshot) == []
    assert rig_state() == before and "mouth" not in rig


def test_preview_writes_each_rotation_mode_as_the_same_rotation():
    """A bone's rotation targets are a rotation vector in its rest frame (axes not given are
    0), written in the bone's own mode."""
    _face, rig = posed_rig()
    rig_apply.apply_frame(on_rig({Target("bone_rotation", "head", 0, "Rig"): 0.5, HEAD_YAW: -0.7,
                                  Target("bone_rotation", "neck", 1, "Rig"): 0.25,
                                  Target("bone_rotation", "jaw", 0, "Rig"): 0.3}))
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
        rig_apply.apply_frame(on_rig({HEAD_YAW: yaw}))
        quat = Quaternion(rig.pose.bones["head"].rotation_quaternion)
        assert previous is None or quat.dot(previous) > 0.99  # continuous: no sign flips
        previous = quat
    euler = Quaternion(rig.pose.bones["head"].rotation_quaternion).to_euler("XYZ")
    assert tuple(euler) == pytest.approx((0.0, 0.0, 3.0), abs=1e-5)


def test_frames_without_a_face_leave_targets_alone_and_missing_targets_are_named():
    face, rig = posed_rig()
    before = rig_state()
    no_such_shape = Target("shape_key", "noSuchShape", owner="Face")
    gone_bone, gone_prop = Target("bone_location", "head", 0, "Gone"), Target("property", "x", owner="Gone")
    values = {Target("shape_key", "jawOpen", owner="Face"): float("nan"), HEAD_YAW: float("nan"),
              no_such_shape: 1.0, gone_bone: 1.0, gone_prop: 1.0}
    found, unresolved = resolve(values)
    assert unresolved == [gone_bone, gone_prop]  # no such object: named once, when the targets are resolved
    missing = rig_apply.apply_frame({found[t]: v for t, v in values.items() if t in found})
    assert rig_state() == before
    assert [rig_target.target for rig_target in missing] == [no_such_shape]


def test_restore_says_what_was_deleted_and_restores_the_rest():
    face, rig = posed_rig()
    snapshot = rig_apply.snapshot_rig(on_rig(dict.fromkeys(preview_targets())))
    rig_apply.apply_frame(on_rig({Target("shape_key", "jawOpen", owner="Face"): 1.0, HEAD_YAW: 1.0}))
    bpy.data.objects.remove(rig)
    problems = rig_apply.restore_rig(snapshot)
    assert face.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(0.3)
    assert problems == ["object 'Rig' is gone"]


def test_renamed_objects_are_still_driven_and_restored():
    """Targets are resolved to the objects once: renaming the mesh and the armature afterwards
    changes nothing (the table still says "Face" and "Rig")."""
    face, rig = posed_rig()
    before = ([(k.name, k.value) for k in face.data.shape_keys.key_blocks],
              tuple(rig.pose.bones["head"].rotation_quaternion))
    bound = on_rig(dict.fromkeys(preview_targets()))
    snapshot = rig_apply.snapshot_rig(bound)
    face.name, rig.name = "Face (renamed)", "Rig (renamed)"
    jaw = next(rig_target for rig_target in bound if rig_target.name == "jawOpen")
    yaw = next(rig_target for rig_target in bound if rig_target.target == HEAD_YAW)
    assert rig_apply.apply_frame({jaw: 0.9, yaw: 0.5}) == []
    assert face.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(0.9)
    assert tuple(rig.pose.bones["head"].rotation_quaternion) != before[1]
    assert rig_apply.restore_rig(snapshot) == []
    assert [(k.name, k.value) for k in face.data.shape_keys.key_blocks] == before[0]
    assert tuple(rig.pose.bones["head"].rotation_quaternion) == pytest.approx(before[1])
