"""Import Video: track a video file offline into a take, with progress; Esc or Cancel stops it
and leaves nothing behind."""

from __future__ import annotations

import time

import bpy
from bpy.props import BoolProperty, StringProperty

from ..link.errors import SessionError
from ..link.offline_import import OfflineImport
from . import preferences, reference_media, takes_io
from .i18n import rpt_
from .operators_capture import capture_options
from .operators_takes import end_progress


class _ImportCancel:
    """Set by the Cancel button, read by the running Import Video on its next timer event."""

    requested = False


class FACEMOCAP_OT_import_video(bpy.types.Operator):
    """Track a video file offline, as fast as the computer allows, into a new take"""

    bl_idname = "facemocap.import_video"
    bl_label = "Import Video"
    bl_options = {"REGISTER", "UNDO"}  # it lists the new take

    filepath: StringProperty(subtype="FILE_PATH")
    filter_glob: StringProperty(default="*.mp4;*.mov;*.avi;*.mkv;*.mpg;*.mpeg;*.webm;*.m4v", options={"HIDDEN"})
    wait: BoolProperty(name="Wait", options={"SKIP_SAVE"},
                       description="Return when the take is written (scripts), instead of running in the background")

    _job: OfflineImport | None = None
    _timer = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.window_manager.face_mocap.importing:
            cls.poll_message_set("A video is already being imported")
            return False
        return True

    def draw(self, context: bpy.types.Context) -> None:  # in the file browser's sidebar
        layout = self.layout
        layout.prop(context.scene.face_mocap, "add_sound")
        layout.prop(context.scene.face_mocap, "reference_video")

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Start the job; runs modal when there is a window, blocking otherwise (scripts)."""
        path = bpy.path.abspath(self.filepath)
        self._name = takes_io.safe_name(bpy.path.display_name_from_filepath(path) or "Video")
        try:
            options = capture_options(context, source=path, realtime=False, preview=False)
            options.import_processes = preferences.import_processes(context)
            self._job = OfflineImport(options, takes_io.new_take_path(self._name))
        except (SessionError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        wm = context.window_manager
        _ImportCancel.requested = False
        wm.face_mocap.importing = True
        wm.face_mocap.import_progress = 0.0
        wm.progress_begin(0, 100)
        if self.wait or bpy.app.background or context.window is None:  # a script, or no event loop: wait here
            while True:
                result = self._step(context)
                if result is not None:
                    return result
                time.sleep(0.05)
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event) -> set[str]:
        if event.type == "ESC" or _ImportCancel.requested:
            return self.cancel_import(context)
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        return self._step(context) or {"PASS_THROUGH"}

    def _step(self, context: bpy.types.Context) -> set[str] | None:
        """Poll the job once; a result set when it is over."""
        progress = self._job.poll()
        wm = context.window_manager
        if progress.total:
            percent = 100.0 * progress.done / progress.total
            wm.face_mocap.import_progress = percent
            wm.progress_update(int(percent))
        if not progress.finished:
            return None
        self._end(context)
        if progress.error:
            self.report({"ERROR"}, rpt_("Import Video failed: {error}").format(error=progress.error))
            return {"CANCELLED"}
        item = takes_io.list_take(context.scene, self._job.out_path, self._name)
        media = reference_media.after_import(context.scene, self._job.out_path, item.name)
        for warning in media.warnings:
            self.report({"WARNING"}, warning)
        imported = rpt_("Imported {frames} frames into take '{take}'").format(frames=item.frame_count, take=item.name)
        self.report({"INFO"}, "; ".join([imported, *media.infos]))
        return {"FINISHED"}

    def cancel_import(self, context: bpy.types.Context) -> set[str]:
        """Stop the capture process and leave nothing behind."""
        self._job.cancel()
        self._end(context)
        self.report({"WARNING"}, "Import Video cancelled")
        return {"CANCELLED"}

    def cancel(self, context: bpy.types.Context) -> None:
        if self._job is not None and context.window_manager.face_mocap.importing:
            self._job.cancel()
            self._end(context)

    def _end(self, context: bpy.types.Context) -> None:
        end_progress(self, context.window_manager)
        context.window_manager.face_mocap.importing = False


class FACEMOCAP_OT_import_cancel(bpy.types.Operator):
    """Cancel the running Import Video"""

    bl_idname = "facemocap.import_cancel"
    bl_label = "Cancel Import"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not context.window_manager.face_mocap.importing:
            cls.poll_message_set("No import is running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        _ImportCancel.requested = True
        return {"FINISHED"}


classes = (
    FACEMOCAP_OT_import_video,
    FACEMOCAP_OT_import_cancel,
)

register, unregister = bpy.utils.register_classes_factory(classes)
