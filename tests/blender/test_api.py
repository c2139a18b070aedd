"""The scripting API in real bpy, with no operator and no UI context: track, auto-detect,
bake, retarget, export; then the same through bpy.ops.facemocap.* with operator properties."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from bake_scene import curves_by_path, keys, set_fps
from face_mocap import api
from face_mocap.capture.takes import take_info
from live_scene import make_rig

CLIP = "grid/bbaf2n.mpg"  # 75 frames at 25 fps: the mouth opens and closes


def test_a_script_tracks_bakes_retargets_and_exports_without_the_ui(addon, facedata, tmp_path):
    set_fps(25)
    face, rig = make_rig()
    fractions: list[float] = []
    take = api.track_video(facedata / CLIP, tmp_path / "line.fmtake", progress=fractions.append)
    assert take_info(take).frame_count == 75 and fractions[-1] == 1.0
    count, _ = api.auto_detect(mesh=face, armature=rig)
    assert count > 50
    result = api.bake(take, mesh=face, armature=rig, start_frame=1001, name="line", smoothing=False)
    jaw = keys(curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    assert result.frame_range[0] == 1001 and abs(len(jaw) - 75) <= 1
    assert jaw[:, 1].max() - jaw[:, 1].min() > 0.1, "jawOpen does not move"
    other_face, other_rig = make_rig()  # a second character, no mapping yet
    api.retarget(take, mesh=other_face, armature=other_rig, start_frame=1)
    assert len(other_face.face_mocap.rows) > 50, "retarget auto-detects a rig without a table"
    other_jaw = keys(curves_by_path(other_face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    assert other_jaw[0, 0] == 1
    csv = api.export_livelink_csv(take, tmp_path / "line.csv")
    assert len(csv.read_text().splitlines()) == 76  # header + 75 rows


def test_api_errors_are_face_mocap_errors_with_a_message(addon, tmp_path):
    face, _ = make_rig()
    with pytest.raises(api.FaceMocapError, match="not found"):
        api.track_video(tmp_path / "missing.mp4")
    with pytest.raises(api.FaceMocapError):
        api.bake(tmp_path / "missing.fmtake", mesh=face)


def test_scripts_drive_the_operators_with_properties(addon, facedata):
    set_fps(25)
    face, rig = make_rig()
    bpy.context.scene.face_mocap.target_mesh = None  # the operator's properties name the objects
    bpy.context.scene.face_mocap.target_armature = None
    assert bpy.ops.facemocap.import_video(filepath=str(facedata / CLIP), wait=True) == {"FINISHED"}
    take = bpy.context.scene.face_mocap.takes[0]
    assert take.frame_count == 75
    api.auto_detect(mesh=face, armature=rig)
    assert bpy.ops.facemocap.bake_take(take=take.name, mesh=face.name, armature=rig.name,
                                       start_frame=101) == {"FINISHED"}
    jaw = keys(curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    assert jaw[0, 0] == 101 and abs(len(jaw) - 75) <= 1
    with pytest.raises(RuntimeError, match="no object named 'Nobody'"):
        bpy.ops.facemocap.retarget_take(take=take.name, armature="Nobody")
    with pytest.raises(RuntimeError, match="no take named 'Missing'"):
        bpy.ops.facemocap.bake_take(take="Missing", mesh=face.name)
