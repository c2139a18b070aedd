"""The head bone turns exactly as the tracked head, live and baked, on the rigs people bring.

Known head rotations (synthetic channels: up to 46 degrees of yaw with pitch and roll) go
through Auto-detect's table to rigs that differ the way real ones do: a generated Rigify
rig, an armature exported to glTF and imported again (its bone axes change), bones in
quaternion and Euler XYZ/ZXY/YXZ modes, the head split over neck and head bones. The
evaluated world rotation of the head bone, relative to its rest, must be the take's rotation
(in the armature's frame) within 0.5 degrees in every frame.
"""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest
from mathutils import Euler, Matrix

from bake_scene import gltf_round_tripped_rig, head_rig, reset, rigify_blend, set_fps  # noqa: F401 (fixture)
from face_mocap.mapping import autodetect
from face_mocap.mapping.channels import CHANNEL_INDEX, N_CHANNELS
from face_mocap.ui import bake, rig_apply, targets

FPS = 30
TOLERANCE_DEG = 0.5
WORST: dict[str, float] = {}  # rig type -> worst error in degrees (printed at the end)


def head_angles(n: int = 48) -> np.ndarray:
    """(n,3) pitch, roll, yaw (radians): yaw up to 46 degrees while pitch and roll change too."""
    t = np.linspace(0.0, 2.0 * np.pi, n)
    return np.stack([np.radians(25) * np.sin(2 * t), np.radians(20) * np.sin(3 * t + 1),
                     np.radians(46) * np.sin(t)], axis=1)


def channels_for(angles: np.ndarray) -> np.ndarray:
    channels = np.zeros((len(angles), N_CHANNELS))
    for axis, name in enumerate(("headPitch", "headRoll", "headYaw")):
        channels[:, CHANNEL_INDEX[name]] = angles[:, axis]
    return channels


def mapped_values(rig: bpy.types.Object, angles: np.ndarray) -> dict:
    """Auto-detect's table on the rig (with its rest matrices), evaluated for the angles."""
    rest = {bone.name: np.array(bone.matrix_local.to_3x3()) for bone in rig.data.bones}
    table, report = autodetect.auto_detect(bones=[b.name for b in rig.data.bones], bone_rest=rest,
                                           armature=rig.name)
    assert report.rig != "none"
    return targets.with_owner(table.evaluate(channels_for(angles)), rig.name)


def world_rotation(rig: bpy.types.Object, bone: str) -> Matrix:
    return (rig.matrix_world @ rig.pose.bones[bone].matrix).to_3x3().normalized()


def error_deg(rig: bpy.types.Object, bone: str, rest: Matrix, angles) -> float:
    """Angle between the head bone's world rotation since rest and the take's rotation
    (in float64: a float32 quaternion's angle cannot tell apart less than about 0.04 deg)."""
    to_world = np.array(rig.matrix_world.to_3x3().normalized(), np.float64)
    want = to_world @ np.array(Euler(angles, "XYZ").to_matrix(), np.float64) @ to_world.T
    got = np.array(world_rotation(rig, bone), np.float64) @ np.array(rest, np.float64).T
    diff = got @ want.T
    sin = np.linalg.norm([diff[2, 1] - diff[1, 2], diff[0, 2] - diff[2, 0], diff[1, 0] - diff[0, 1]]) / 2
    return math.degrees(math.atan2(sin, (np.trace(diff) - 1) / 2))


def worst_live_and_baked(rig: bpy.types.Object, head: str, angles: np.ndarray) -> tuple[float, float]:
    """(live, baked) worst error over the frames."""
    bpy.context.view_layer.update()
    rest = world_rotation(rig, head)
    values = mapped_values(rig, angles)
    bound, _ = targets.resolve(values)
    live = 0.0
    for i, frame_angles in enumerate(angles):
        rig_apply.apply_frame({bound[target]: float(series[i]) for target, series in values.items()})
        bpy.context.view_layer.update()
        live = max(live, error_deg(rig, head, rest, frame_angles))
    for bone in rig.pose.bones:  # back to rest before the baked action plays
        bone.rotation_quaternion, bone.rotation_euler, bone.rotation_axis_angle = (1, 0, 0, 0), (0, 0, 0), (0, 0, 1, 0)
    set_fps(FPS)
    bake.bake_values(values, np.arange(len(angles)) / FPS, bake.BakeSettings(fps=FPS, name="Head"))
    baked = 0.0
    for i, frame_angles in enumerate(angles):
        bpy.context.scene.frame_set(1 + i)
        baked = max(baked, error_deg(rig, head, rest, frame_angles))
    return live, baked


def check(rig_type: str, live: float, baked: float) -> None:
    WORST[rig_type] = max(live, baked)
    print(f"\n{rig_type}: worst head rotation error live {live:.2g} deg, baked {baked:.2g} deg")
    assert live <= TOLERANCE_DEG and baked <= TOLERANCE_DEG, (rig_type, live, baked)


def test_rigify_head_follows_the_take(rigify_blend):
    bpy.ops.wm.open_mainfile(filepath=str(rigify_blend), load_ui=False)
    rig = bpy.data.objects["rig"]
    check("rigify", *worst_live_and_baked(rig, "DEF-spine.006", head_angles()))


@pytest.mark.parametrize("mode", ["QUATERNION", "XYZ", "ZXY", "YXZ", "AXIS_ANGLE"])
def test_split_over_neck_and_head_in_every_rotation_mode(mode):
    reset()
    rig = head_rig("Rig", {"neck": mode, "head": mode})
    check(f"neck+head {mode}", *worst_live_and_baked(rig, "head", head_angles()))


def test_head_bone_with_a_roll_and_no_neck():
    """A head bone rolled 35 degrees and leaning forward, as hand-made rigs have."""
    reset()
    rig = head_rig("Rig")
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    edit = rig.data.edit_bones
    edit.remove(edit["neck"])
    edit["head"].tail = (0.0, -0.06, 1.8)
    edit["head"].roll = math.radians(35)
    bpy.ops.object.mode_set(mode="OBJECT")
    check("rolled head", *worst_live_and_baked(rig, "head", head_angles()))


def test_gltf_round_tripped_armature(tmp_path):
    """Exported to glTF and imported again: the importer gives the bones new axes."""
    rig = gltf_round_tripped_rig(tmp_path)
    moved = max(abs(a - b) for bone in rig.data.bones
                for a, b in zip(np.ravel(bone.matrix_local.to_3x3()), np.ravel(Matrix.Identity(3))))
    assert moved > 0.1  # the bone axes really differ from the armature's
    check("glTF", *worst_live_and_baked(rig, "head", head_angles()))


def test_zz_print_worst_case_per_rig_type():
    """The figures the issue asks for (run with -s to see them)."""
    for rig_type, worst in WORST.items():
        print(f"worst head rotation error, {rig_type}: {worst:.2g} deg")
