"""Bake at Blender's NTSC presets (fps 24/30/60, fps_base 1.001): one key for every frame of the clip."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from bake_scene import curves_by_path, face_mocap_rig, keys, reset
from face_mocap.mapping.retarget import Target
from face_mocap.ui import bake

FRAMES = 472  # the Pexels clip's length: it baked 471 keys at 23.98 before the fix


@pytest.mark.parametrize("fps", [24, 30, 60])
def test_a_clip_at_the_preset_rate_bakes_one_key_per_frame(fps):
    reset()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, 1.001  # the 23.98 / 29.97 / 59.94 presets
    face, _rig = face_mocap_rig()
    times = np.round(np.arange(FRAMES) * 1001e6 / (fps * 1000)) / 1e6  # the clip's own microsecond stamps
    ramp = np.linspace(0.0, 1.0, FRAMES)
    settings = bake.BakeSettings(fps=bake.scene_fps(scene), start_frame=1)
    result = bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): ramp}, times, settings)
    frames = keys(curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    assert len(frames) == FRAMES and result.frame_range == (1.0, float(FRAMES))
    assert frames[-1, 1] == pytest.approx(1.0, abs=1e-6)  # the last key is the clip's last frame
