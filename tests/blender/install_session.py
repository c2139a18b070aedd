"""A user's first session with the built zip, run in a fresh Blender process (see test_extension_install.py).

    python install_session.py ZIP CLIP OUT_JSON     (with BLENDER_USER_RESOURCES set to an empty folder)

Installs the zip with Blender's own operator, enables it, and runs a capture on CLIP with the
default (Bundled) interpreter: Blender's Python + the wheels Blender installed from the zip.
Writes what it saw as JSON; the test makes the assertions. Steps that bpy as a module cannot
do like a desktop Blender are noted in "notes".
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

import bpy

ADDON = "bl_ext.user_default.face_mocap"


def installed_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def tick_until(live, condition, timeout_s: float) -> bool:
    """bpy as a module has no event loop: call the add-on's timer callback ourselves."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not condition():
        if live.tick() is None:
            break
        time.sleep(live.TICK_S)
    return condition()


def main(zip_path: str, clip: str, out_json: str) -> None:
    report: dict = {"notes": [], "steps": []}
    out = Path(out_json)
    try:
        run(report, zip_path, clip, out.parent)
    except Exception:  # the test shows the traceback instead of a bare exit code
        report["error"] = traceback.format_exc()
    out.write_text(json.dumps(report, indent=1))


def run(report: dict, zip_path: str, clip: str, work: Path) -> None:
    extensions = Path(bpy.utils.user_resource("EXTENSIONS"))
    report["extensions_dir"] = str(extensions)
    report["blender"] = bpy.app.version_string
    report["python"] = "%d.%d" % sys.version_info[:2]
    report["numpy"] = importlib.import_module("numpy").__version__  # Blender's own numpy
    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default",
                                                      enable_on_install=True)
    report["install_result"] = sorted(result)
    report["enabled"] = ADDON in bpy.context.preferences.addons
    report["steps"].append("installed and enabled with extensions.package_install_files")

    addon_dir = extensions / "user_default" / "face_mocap"
    report["installed_files"] = installed_files(addon_dir)
    model = addon_dir / "models" / "face_landmarker.task"
    report["model_sha256"] = hashlib.sha256(model.read_bytes()).hexdigest() if model.is_file() else ""
    interpreter = importlib.import_module(f"{ADDON}.ui.interpreter")
    site = interpreter.wheels_site_packages()
    report["site_packages"] = str(site)
    report["site_packages_entries"] = sorted(os.listdir(site)) if site.is_dir() else []
    report["registered_ops"] = sorted(name for name in dir(bpy.ops.facemocap) if not name.startswith("_"))

    prefs = bpy.context.preferences.addons[ADDON].preferences
    report["interpreter_mode"] = prefs.interpreter
    report["check_result"] = sorted(bpy.ops.facemocap.check_interpreter())
    report["check_message"] = bpy.context.window_manager.face_mocap.check_result
    argv, _env = interpreter.bundled_capture_command(["--help"])
    report["bundled_argv0"] = argv[0]
    report["sys_executable"] = sys.executable
    report["steps"].append("Check in the preferences (Bundled)")

    bpy.ops.wm.save_as_mainfile(filepath=str(work / "first_session.blend"))  # takes go next to the file
    report["demo_head"] = sorted(bpy.ops.facemocap.add_demo_head())
    face = bpy.context.scene.face_mocap.target_mesh
    report["demo_shape_keys"] = len(face.data.shape_keys.key_blocks) - 1 if face else 0
    report["steps"].append("Add Demo Head")

    live = importlib.import_module(f"{ADDON}.ui.live")
    settings = bpy.context.scene.face_mocap
    settings.source_type, settings.video_path, settings.realtime = "VIDEO", clip, True
    report["start_capture"] = sorted(bpy.ops.facemocap.start_capture())
    runtime = bpy.context.window_manager.face_mocap
    got_frames = tick_until(live, lambda: live.session() is not None
                            and live.session().poll().frames_received >= 5, 60.0)
    status = live.session().poll() if live.session() else None
    report["live_frames"] = status.frames_received if status else 0
    report["live_face_found"] = bool(status and status.face_found)
    report["live_error"] = runtime.last_error
    report["live_ok"] = got_frames
    report["child_argv"] = list(live.session().child.proc.args) if live.session() and live.session().child else []
    report["stop_capture"] = sorted(bpy.ops.facemocap.stop_capture()) if live.is_running() else []
    report["steps"].append("Start Capture on a clip (live, bundled), frames received, Stop Capture")

    report["import_video"] = sorted(bpy.ops.facemocap.import_video(filepath=clip))
    takes = bpy.context.scene.face_mocap.takes
    report["take_frames"] = takes[-1].frame_count if len(takes) else 0
    report["steps"].append("Import Video (offline, bundled)")
    report["notes"].append("bpy as a module has no window: Start Capture's timer is ticked by this script, "
                           "and Import Video runs blocking instead of modal")

    report["disable"] = sorted(bpy.ops.preferences.addon_disable(module=ADDON))
    report["enabled_after_disable"] = ADDON in bpy.context.preferences.addons
    report["steps"].append("Disable the add-on")


if __name__ == "__main__":
    main(*sys.argv[1:4])
