"""Add-on preferences (machine settings): capture interpreter, model path override, default camera."""

from __future__ import annotations

import json
import platform
import subprocess
import threading
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from ..capture.model import find_model
from ..link.bundled_layout import bundled_support_problem
from ..link.errors import LaunchError
from ..link.options import check_interpreter, child_environment
from .i18n import iface_

ADDON_ID = __package__.rpartition(".")[0]  # the add-on's own package (bl_ext.<repo>.face_mocap)
ADDON_ROOT = Path(__file__).resolve().parents[1]

INTERPRETER_ITEMS = [
    ("BUNDLED", "Bundled", "Blender's own Python with the packages shipped in the extension"),
    ("CUSTOM", "Custom Python", "Any Python where mediapipe is installed (e.g. a venv you made)"),
]

# Run in the capture interpreter: can it import the face landmarker (as the capture process
# does: no matplotlib needed) and load the model?
_CHECK_SCRIPT = """
import json, sys
out = {"python": sys.version.split()[0]}
try:
    import cv2, numpy
    from capture.mediapipe_face import face_landmarker_api, mediapipe_version
    vision = face_landmarker_api()
    BaseOptions = vision.BaseOptions
    out.update(mediapipe=mediapipe_version(), numpy=numpy.__version__)
except Exception as exc:
    out["error"] = "mediapipe is not usable here (" + type(exc).__name__ + ": " + str(exc) + ")"
    print(json.dumps(out)); sys.exit(0)
try:
    from capture.model import find_model
    path = find_model(sys.argv[1] or None)
    options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(path)))
    vision.FaceLandmarker.create_from_options(options).close()
    out["model"] = str(path)
except Exception as exc:
    out["error"] = "the model is not usable: " + str(exc)
print(json.dumps(out))
"""


def _keep_ready_changed(prefs, _context) -> None:
    from . import keep_ready  # (it imports this module)

    if not prefs.keep_capture_ready:
        keep_ready.stop()  # turned on again: started the next time the Face Mocap panel is drawn


class FACEMOCAP_AP_preferences(bpy.types.AddonPreferences):
    """Where the capture process runs and what it uses."""

    bl_idname = ADDON_ID

    interpreter: EnumProperty(name="Capture Interpreter", items=INTERPRETER_ITEMS, default="BUNDLED")
    custom_python: StringProperty(name="Python", subtype="FILE_PATH",
                                  description="A Python executable that has mediapipe installed")
    model_path: StringProperty(name="Model Override", subtype="FILE_PATH",
                               description="face_landmarker.task to use instead of the bundled one")
    default_camera: IntProperty(name="Default Camera", min=0, max=63, default=0)
    import_processes: IntProperty(
        name="Import Processes", min=0, max=64, default=0,
        description="How many tracking processes Import Video may run at once, each on one segment of the clip "
                    "(about 200 MB each). 0 = one per CPU core, fewer when memory is short")
    keep_capture_ready: BoolProperty(
        name="Keep Capture Ready", default=True, update=_keep_ready_changed,
        description="Once the Face Mocap panel is shown, and after each capture, keep a capture process waiting "
                    "with MediaPipe loaded (about 130 MB of memory), so Start Capture shows the first frame in a "
                    "fraction of a second instead of about a second. It opens no camera or video until you "
                    "press Start Capture, and ends with Blender")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "interpreter", expand=True)
        if self.interpreter == "CUSTOM":
            layout.prop(self, "custom_python")
        elif bundled_support_problem(platform.system(), platform.machine()):
            layout.label(text="No bundled packages for this computer (Intel Mac?): press Check, "
                              "or use Custom Python", icon="ERROR")
        layout.prop(self, "model_path")
        layout.prop(self, "default_camera")
        layout.prop(self, "import_processes")
        layout.prop(self, "keep_capture_ready")
        row = layout.row()
        row.operator(FACEMOCAP_OT_check_interpreter.bl_idname, icon="CHECKMARK")
        result = context.window_manager.face_mocap.check_result
        if result:
            row.label(text=result, translate=False)  # put together from translated parts


def get_preferences(context: bpy.types.Context | None = None):
    """The preferences, or None when the add-on is registered without being enabled (scripts)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon else None


def capture_env(context: bpy.types.Context | None = None) -> dict[str, str]:
    """Extra environment of the capture process: bundled mode ignores the user's pip packages."""
    prefs = get_preferences(context)
    return {} if prefs is not None and prefs.interpreter == "CUSTOM" else {"PYTHONNOUSERSITE": "1"}


def capture_python(context: bpy.types.Context | None = None) -> tuple[str, list[str]]:
    """The capture interpreter and its PYTHONPATH (the add-on folder first); LaunchError if unusable."""
    prefs = get_preferences(context)
    if prefs is not None and prefs.interpreter == "CUSTOM":
        return bpy.path.abspath(prefs.custom_python), [str(ADDON_ROOT)]
    from .interpreter import bundled_interpreter  # LaunchError when the wheels are missing

    return bundled_interpreter()


def keep_capture_ready(context: bpy.types.Context | None = None) -> bool:
    """True when a capture process may wait in standby (the preference; off when the add-on is not enabled)."""
    prefs = get_preferences(context)
    return prefs is not None and prefs.keep_capture_ready


def import_processes(context: bpy.types.Context | None = None) -> int:
    """The cap on Import Video's tracking processes (0 = one per CPU core)."""
    prefs = get_preferences(context)
    return prefs.import_processes if prefs is not None else 0


def model_override(context: bpy.types.Context | None = None) -> str:
    """The model path set in the preferences, or '' to let the capture process find it."""
    prefs = get_preferences(context)
    return bpy.path.abspath(prefs.model_path) if prefs is not None and prefs.model_path else ""


def model_file(context: bpy.types.Context | None = None) -> Path:
    """The verified model: the override from the preferences, else where the capture process looks (ModelError)."""
    return find_model(model_override(context) or None)


def check_capture_python(interpreter: str, python_path: list[str], model: str,
                         env: dict[str, str] | None = None) -> str:
    """Run the interpreter; return '' when mediapipe and the model load there, else what is wrong."""
    check_interpreter(interpreter)
    try:
        result = subprocess.run([interpreter, "-c", _CHECK_SCRIPT, model], capture_output=True, text=True,
                                env=child_environment(None, python_path, env), timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LaunchError(f"Cannot run {interpreter}: {exc}") from None
    try:
        report = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise LaunchError(f"{interpreter} is not a usable Python: {tail}") from None
    if "error" in report:
        raise LaunchError(f"{report['error']}. Install mediapipe into that Python or choose Bundled")
    return iface_("OK: Python {python}, mediapipe {mediapipe}, numpy {numpy}, model {model}").format(**report)


class CheckJob:
    """check_capture_python in a thread: importing mediapipe in a cold Python can take a
    minute, and Blender's UI must not freeze meanwhile."""

    def __init__(self, interpreter: str, python_path: list[str], model: str, env: dict[str, str]) -> None:
        self.result = ""
        self.error = ""
        self._thread = threading.Thread(target=self._run, args=(interpreter, python_path, model, env),
                                        daemon=True, name="face_mocap-check")
        self._thread.start()

    def _run(self, *args) -> None:
        try:
            self.result = check_capture_python(*args)
        except LaunchError as exc:
            self.error = str(exc)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self) -> None:
        self._thread.join()


class FACEMOCAP_OT_check_interpreter(bpy.types.Operator):
    """Run the capture interpreter and report whether mediapipe and the model are usable"""

    bl_idname = "facemocap.check_interpreter"
    bl_label = "Check"
    bl_options = {"REGISTER"}

    _job: CheckJob | None = None
    _timer = None

    def _start(self, context: bpy.types.Context) -> bool:
        runtime = context.window_manager.face_mocap
        try:
            interpreter, python_path = capture_python(context)
            check_interpreter(interpreter)  # a missing file is said at once
        except LaunchError as exc:
            runtime.check_result = iface_("Problem: {error}").format(error=exc)
            self.report({"ERROR"}, str(exc))
            return False
        self._job = CheckJob(interpreter, python_path, model_override(context), capture_env(context))
        runtime.check_result = iface_("Checking...")
        return True

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        """From the button: the check runs in the background, the result shows when it is done."""
        if not self._start(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.2, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event) -> set[str]:
        if event.type != "TIMER" or not self._job.done:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._finish(context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        """From a script: wait for the result."""
        if not self._start(context):
            return {"CANCELLED"}
        self._job.wait()
        return self._finish(context)

    def _finish(self, context: bpy.types.Context) -> set[str]:
        runtime = context.window_manager.face_mocap
        if self._job.error:
            runtime.check_result = iface_("Problem: {error}").format(error=self._job.error)
            self.report({"ERROR"}, self._job.error)
            return {"CANCELLED"}
        runtime.check_result = self._job.result
        self.report({"INFO"}, self._job.result)
        return {"FINISHED"}


classes = (FACEMOCAP_AP_preferences, FACEMOCAP_OT_check_interpreter)

register, unregister = bpy.utils.register_classes_factory(classes)
