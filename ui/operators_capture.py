"""Operators for live capture: Start/Stop Capture, Calibrate Neutral, Range of Motion, Record/Stop Recording."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from ..capture.takes import TakeError
from ..mapping.errors import MappingError
from . import calibrate, keep_ready, live, mapping_tables, preferences
from ..link.errors import SessionError
from ..link.options import CaptureOptions
from .i18n import rpt_


def capture_source(settings, context: bpy.types.Context | None = None) -> str:
    """The --source argument for the scene's Source settings."""
    if settings.source_type == "WEBCAM":
        prefs = preferences.get_preferences(context)
        index = prefs.default_camera if settings.use_default_camera and prefs is not None else settings.camera_index
        return f"webcam:{index}"
    return bpy.path.abspath(settings.video_path) if settings.video_path else ""


def capture_options(context: bpy.types.Context, source: str | None = None, realtime: bool | None = None,
                    preview: bool = True) -> CaptureOptions:
    """Settings + preferences -> options for the capture process (plain data, no context)."""
    settings = context.scene.face_mocap
    interpreter, python_path = preferences.capture_python(context)
    source = capture_source(settings, context) if source is None else source
    extra = []
    if source.startswith("webcam:") and settings.camera_resolution != "DEFAULT":
        width, height = settings.camera_resolution.split("x")
        extra += ["--width", width, "--height", height]
    return CaptureOptions(
        source=source, interpreter=interpreter, python_path=python_path, env=preferences.capture_env(context),
        model=preferences.model_override(context),
        preview_fps=settings.preview_fps if (preview and settings.show_preview) else 0.0,
        realtime=settings.realtime if realtime is None else realtime,
        loop=settings.loop_video and settings.source_type == "VIDEO",
        num_faces=settings.num_faces, mirror=settings.mirror,
        min_face_detection_confidence=settings.min_face_detection_confidence,
        min_face_presence_confidence=settings.min_face_presence_confidence,
        min_tracking_confidence=settings.min_tracking_confidence, extra_args=extra)


class FACEMOCAP_OT_start_capture(bpy.types.Operator):
    """Launch the capture process and drive the rig live with the tracked face"""

    bl_idname = "facemocap.start_capture"
    bl_label = "Start Capture"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if live.is_running():
            cls.poll_message_set("A capture is already running")
            return False
        if context.window_manager.face_mocap.importing:
            cls.poll_message_set("Wait for the video import to finish")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        keep_ready.forget()  # one is started again after this capture
        try:
            live.start(context, capture_options(context))
        except (SessionError, MappingError) as exc:
            context.window_manager.face_mocap.last_error = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        targets = mapping_tables.scene_targets(context.scene)
        if not targets:
            self.report({"WARNING"}, "Capturing without a target: pick a mesh or armature under Targets")
        elif not any(obj.face_mocap.rows for obj in targets):
            self.report({"WARNING"}, "The targets have no mapping rows: press Auto-detect or load a preset")
        return {"FINISHED"}


class FACEMOCAP_OT_stop_capture(bpy.types.Operator):
    """Stop the capture process, finish any recording and restore the rig"""

    bl_idname = "facemocap.stop_capture"
    bl_label = "Stop Capture"
    bl_options = {"REGISTER", "UNDO"}  # it lists the take being recorded

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if live.session() is None:
            cls.poll_message_set("No capture is running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            take = live.stop()
        except SessionError as exc:  # the recording could not be finished: the part written is listed
            self.report({"ERROR"}, str(exc))
            return {"FINISHED"}
        finally:
            keep_ready.keep_capture_ready(context)  # for the next Start Capture
        if take is not None:
            self.report({"INFO"}, rpt_("Take saved: {take}").format(take=take.name))
        return {"FINISHED"}


def _live_or_take(cls, context: bpy.types.Context, message: str) -> bool:
    """Poll of the calibrate operators: a live capture or a take to calibrate from."""
    if live.is_running() or len(context.scene.face_mocap.takes):
        return True
    cls.poll_message_set(message)
    return False


def _reported(operator: bpy.types.Operator, run) -> set[str]:
    """Run a calibration and report its message, or its error once (a damaged take: TakeError)."""
    try:
        message = run()
    except (SessionError, MappingError, TakeError) as exc:
        operator.report({"ERROR"}, str(exc))
        return {"CANCELLED"}
    if message:
        operator.report({"INFO"}, message)
    return {"FINISHED"}


class FACEMOCAP_OT_calibrate_neutral(bpy.types.Operator):
    """Use the current face (live) or the active take's frame as the neutral pose and expression"""

    bl_idname = "facemocap.calibrate_neutral"
    bl_label = "Calibrate Neutral"
    bl_options = {"REGISTER", "UNDO"}

    from_take: bpy.props.BoolProperty(name="From Take", default=False,
                                      description="Use a frame of the active take instead of the live face")
    frame: bpy.props.IntProperty(name="Take Frame", min=0, default=0)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _live_or_take(cls, context, "Start Capture (or record a take) and hold a neutral face")

    def execute(self, context: bpy.types.Context) -> set[str]:
        def run() -> str:
            if self.from_take or not live.is_running():
                return calibrate.calibrate_from_take(context.scene, self.frame)
            return calibrate.calibrate_live(context.scene, live.rig())
        return _reported(self, run)


class FACEMOCAP_OT_calibrate_range(bpy.types.Operator):
    """Range of motion: each expression's largest value while you make your extremes (eyes shut,
jaw wide open, big smile, brows up...) becomes its full value. Live: press to start, again to finish"""

    bl_idname = "facemocap.calibrate_range"
    bl_label = "Range of Motion"
    bl_options = {"REGISTER", "UNDO"}

    from_take: bpy.props.BoolProperty(name="From Take", default=False,
                                      description="Use a stretch of the active take instead of the live face")
    first_frame: bpy.props.IntProperty(name="First Frame", min=0, default=0)
    last_frame: bpy.props.IntProperty(name="Last Frame", min=0, default=0,
                                      description="Last frame of the stretch (0: to the end of the take)")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _live_or_take(cls, context, "Start Capture (or record a take of your extremes)")

    def execute(self, context: bpy.types.Context) -> set[str]:
        def run() -> str:
            if self.from_take or not live.is_running():
                last = self.last_frame or calibrate.active_take_frame_count(context.scene) - 1
                return calibrate.calibrate_range_from_take(context.scene, self.first_frame, last)
            return calibrate.calibrate_range_live(context.scene, live.rig())
        return _reported(self, run)


class FACEMOCAP_OT_edit_channel_calibration(bpy.types.Operator):
    """Edit one channel's calibration by hand: neutral, top (the raw value that reads 1), gain and curve"""

    bl_idname = "facemocap.edit_channel_calibration"
    bl_label = "Edit Channel Calibration"
    bl_options = {"REGISTER", "UNDO"}

    channel: StringProperty(name="Channel", description="e.g. eyeBlinkLeft or jawOpen")
    low: bpy.props.FloatProperty(name="Neutral", description="Raw value that reads 0 (an angle's offset)")
    high: bpy.props.FloatProperty(name="Top", default=1.0, description="Raw value that reads 1 (shapes)")
    gain: bpy.props.FloatProperty(name="Gain", default=1.0)
    curve: bpy.props.FloatProperty(name="Curve", min=0.0, max=1.0, description="0 linear, 1 S curve")

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        def fill() -> str:
            self.low, self.high, self.gain, self.curve = calibrate.channel_calibration(context.scene, self.channel)
            return ""
        if _reported(self, fill) != {"FINISHED"}:
            return {"CANCELLED"}
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context: bpy.types.Context) -> set[str]:
        return _reported(self, lambda: calibrate.set_channel_calibration(
            context.scene, self.channel, self.low, self.high, self.gain, self.curve))


class FACEMOCAP_OT_clear_calibration(bpy.types.Operator):
    """Forget the neutral calibration"""

    bl_idname = "facemocap.clear_calibration"
    bl_label = "Clear Calibration"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not context.scene.face_mocap.calibration:
            cls.poll_message_set("There is no calibration")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        context.scene.face_mocap.calibration = ""  # a running capture follows it on its next frame
        return {"FINISHED"}


class FACEMOCAP_OT_record(bpy.types.Operator):
    """Record the live capture into a new take"""

    bl_idname = "facemocap.record"
    bl_label = "Record"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not live.is_running():
            cls.poll_message_set("Start Capture before recording")
            return False
        if context.window_manager.face_mocap.recording:
            cls.poll_message_set("Already recording")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            path = live.start_recording(context, context.scene.face_mocap.take_name)
        except SessionError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, rpt_("Recording to {path}").format(path=path))
        return {"FINISHED"}


class FACEMOCAP_OT_stop_recording(bpy.types.Operator):
    """Finish the take being recorded and add it to the takes list"""

    bl_idname = "facemocap.stop_recording"
    bl_label = "Stop Recording"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not context.window_manager.face_mocap.recording:
            cls.poll_message_set("Not recording")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            path = live.stop_recording(context)
        except SessionError as exc:  # a full disk: the part that was written is listed
            context.window_manager.face_mocap.last_error = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if path is None:
            self.report({"WARNING"}, "Nothing was recorded")
            return {"CANCELLED"}
        self.report({"INFO"}, rpt_("Take saved: {take}").format(take=path.name))
        return {"FINISHED"}


class FACEMOCAP_OT_report_problem(bpy.types.Operator):
    """Show a capture problem in the status bar and the Info log (used by the capture timer)"""

    bl_idname = "facemocap.report_problem"
    bl_label = "Report Capture Problem"
    bl_options = {"INTERNAL"}

    message: StringProperty()
    level: EnumProperty(items=[(level, level.capitalize(), "") for level in ("ERROR", "WARNING", "INFO")])

    def execute(self, context: bpy.types.Context) -> set[str]:
        self.report({self.level}, self.message)
        return {"FINISHED"}


classes = (
    FACEMOCAP_OT_start_capture,
    FACEMOCAP_OT_stop_capture,
    FACEMOCAP_OT_calibrate_neutral,
    FACEMOCAP_OT_calibrate_range,
    FACEMOCAP_OT_edit_channel_calibration,
    FACEMOCAP_OT_clear_calibration,
    FACEMOCAP_OT_record,
    FACEMOCAP_OT_stop_recording,
    FACEMOCAP_OT_report_problem,
)

register, unregister = bpy.utils.register_classes_factory(classes)
