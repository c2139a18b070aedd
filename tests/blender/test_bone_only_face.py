"""The real Live Link take drives a face made only of bones (issue 10, item 3).

The iPhone app writes scores and angles but no landmarks, so there is no jawAngle: the jaw
bone opens from JawOpen, and the eyelid bones (named eyeLid.L/R, found by Auto-detect)
close with the blinks.
"""

from __future__ import annotations

import math

import bpy
import numpy as np

from bake_scene import csv_column, head_rig
from face_mocap.ui import livelink_io, presets, takes_io
from face_mocap.ui.bake_take import bake_take

LIDS = (("eyeLid.L", (0.03, -0.09, 1.69), (0.03, -0.11, 1.69)),
        ("eyeLid.R", (-0.03, -0.09, 1.69), (-0.03, -0.11, 1.69)))


def bone_face() -> bpy.types.Object:
    rig = head_rig("Face")
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    for name, head, tail in LIDS:
        bone = rig.data.edit_bones.new(name)
        bone.head, bone.tail = head, tail
        bone.parent = rig.data.edit_bones["head"]
    bpy.ops.object.mode_set(mode="OBJECT")
    for bone in rig.pose.bones:
        bone.rotation_mode = "QUATERNION"
    return rig


def angle_from_rest(rig: bpy.types.Object, bone: str) -> float:
    """How far (radians) a pose bone is turned from its rest, in its parent's frame."""
    return rig.pose.bones[bone].matrix_basis.to_quaternion().angle


def test_live_link_take_opens_the_jaw_and_closes_the_lids_of_a_bone_face(addon, interop):
    scene = bpy.context.scene
    rig = bone_face()
    scene.face_mocap.target_armature = rig
    mapped, unmapped = presets.auto_detect(scene)
    assert mapped and not unmapped  # neck, head, jaw, eyes and both lids all found
    assert {row.target for row in rig.face_mocap.rows} >= {"jaw", "eyeLid.L", "eyeLid.R"}
    item, _ = livelink_io.import_livelink(scene, str(interop / "MySlate_3_Jason_Millers_iPhone.csv"))
    scene.render.fps, scene.render.fps_base = 60, 1.0

    result = bake_take(scene, takes_io.resolve(item), None, rig, "LLF", smoothing=False)

    assert not [s for s in result.skipped if "no value" in s]
    first, last = (int(f) for f in result.frame_range)
    jaw, lid, gaze = [], [], []
    for frame in range(first, last + 1):
        scene.frame_set(frame)
        jaw.append(angle_from_rest(rig, "jaw"))
        lid.append(angle_from_rest(rig, "eyeLid.L"))
        # +X is the character's left: where each eye bone (pointing forward at rest) now points
        gaze.append([rig.pose.bones[eye].matrix.col[1][0] for eye in ("eye.L", "eye.R")])
    jaw, lid, gaze = np.array(jaw), np.array(lid), np.array(gaze)
    # JawOpen runs 0.05..0.82 in this take: the jaw swings by about 0.2 rad per unit of it
    assert jaw.max() > math.radians(8) and jaw.max() - jaw.min() > math.radians(6)
    # EyeBlinkLeft reaches 0.89: the upper lid turns 0.6 rad per unit of blink
    assert lid.max() > 0.45 and lid.min() < 0.05
    # Issue 10, item 5: the eye bones turn the way the take's own eyeLook shapes say (looking to
    # the character's left: the left eye looks out, the right eye in), never against them
    shapes = {name: csv_column(interop / "MySlate_3_Jason_Millers_iPhone.csv", name)
              for name in ("EyeLookOutLeft", "EyeLookInLeft", "EyeLookInRight", "EyeLookOutRight")}
    leftward = np.stack([shapes["EyeLookOutLeft"] - shapes["EyeLookInLeft"],
                         shapes["EyeLookInRight"] - shapes["EyeLookOutRight"]], axis=1)
    n = min(len(gaze), len(leftward))  # frame i is row i at the take's 60 fps
    for side in (0, 1):
        assert np.corrcoef(gaze[:n, side], leftward[:n, side])[0, 1] > 0.9

