"""Operators on takes: rename, delete, Import Video (offline, with progress and cancel), bake, retarget."""

from __future__ import annotations

import time
from pathlib import Path

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty

from ..capture.takes import TakeError
from ..mapping.errors import MappingError
from . import driver, live, preferences, takes_io
from .bake import BakeCancelled, BakeError, objects_to_bake
from .operators_capture import capture_options
from .child import CaptureError, OfflineImport


class _ImportCancel:
    """Set by the Cancel button, read by the running Import Video on its next timer event."""

    requested = False


def take_poll(cls, context: bpy.types.Context) -> bool:
    """Poll of the operators on the selected take."""
    if takes_io.active_take(context.scene) is None:
        cls.poll_message_set("Select a take in the takes list")
        return False
    return True


class FACEMOCAP_OT_take_rename(bpy.types.Operator):
    """Rename the selected take (in the list; the file keeps its name)"""

    bl_idname = "facemocap.take_rename"
    bl_label = "Rename Take"
    bl_options = {"REGISTER", "UNDO"}

    name: StringProperty(name="Name")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return take_poll(cls, context)

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        self.name = takes_io.active_take(context.scene).name
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context: bpy.types.Context) -> set[str]:
        name = self.name.strip()
        if not name:
            self.report({"ERROR"}, "A take needs a name")
            return {"CANCELLED"}
        take = takes_io.active_take(context.scene)
        if name != take.name:
            take.name = takes_io.unique_take_name(context.scene, name)
        return {"FINISHED"}


class FACEMOCAP_OT_take_delete(bpy.types.Operator):
    """Remove the selected take from the list and delete its file"""

    bl_idname = "facemocap.take_delete"
    bl_label = "Delete Take"
    bl_options = {"REGISTER", "UNDO"}

    delete_file: BoolProperty(name="Delete File", default=True,
                              description="Also delete the take file from disk (cannot be undone)")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return take_poll(cls, context)

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        return context.window_manager.invoke_confirm(self, event)

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.face_mocap
        take = takes_io.active_take(context.scene)
        path = takes_io.resolve(take)
        if self.delete_file:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                self.report({"ERROR"}, f"Cannot delete {path}: {exc.strerror or exc}")
                return {"CANCELLED"}
        settings.takes.remove(settings.active_take)
        settings.active_take = min(settings.active_take, len(settings.takes) - 1)
        return {"FINISHED"}


class FACEMOCAP_OT_take_refresh(bpy.types.Operator):
    """Re-read the takes from their files, list take files found in the takes folder and recover interrupted recordings"""

    bl_idname = "facemocap.take_refresh"
    bl_label = "Refresh Takes"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        for item in scene.face_mocap.takes:
            takes_io.refresh(item)
        notes = takes_io.recover_interrupted_takes(scene)  # a recording's own .partial is left alone (it is locked)
        found = takes_io.list_unlisted_takes(scene)
        for note in notes:
            self.report({"WARNING"} if note.failed else {"INFO"}, note.text)
        if found:
            self.report({"INFO"}, f"Listed {found} take file(s) found in the takes folder")
        return {"FINISHED"}


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
        except (CaptureError, OSError) as exc:
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
            self.report({"ERROR"}, f"Import Video failed: {progress.error}")
            return {"CANCELLED"}
        item = takes_io.list_take(context.scene, self._job.out_path, self._name)
        self.report({"INFO"}, f"Imported {item.frame_count} frames into take '{item.name}'")
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
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        wm.face_mocap.importing = False


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


class _BakeBase:
    """Shared by Bake and Retarget: the active take -> actions on a rig named by two settings."""

    mesh_setting = "target_mesh"
    armature_setting = "target_armature"
    missing_rig = "Pick a target mesh or armature under Targets"
    detect_when_empty = False  # Retarget: a rig without a table gets an auto-detected one

    # Scripts and `blender -b` pass these; from the panel they are left unset (the scene's settings).
    take: StringProperty(name="Take", options={"SKIP_SAVE"},
                         description="A take in the list (its name) or a take file; empty: the selected take")
    mesh: StringProperty(name="Mesh", options={"SKIP_SAVE"}, description="Mesh object to bake onto")
    armature: StringProperty(name="Armature", options={"SKIP_SAVE"}, description="Armature object to bake onto")
    start_frame: IntProperty(name="Start Frame", options={"SKIP_SAVE"}, description="Frame of the take's first key")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not take_poll(cls, context):  # a script's `take` may name another one, or a file
            return False
        if live.is_running():
            cls.poll_message_set("Stop Capture before baking")
            return False
        return True

    def _targets(self, context: bpy.types.Context) -> tuple:
        """(mesh, armature): the operator's, else the scene's; BakeError naming what is missing."""
        settings = context.scene.face_mocap
        found = objects_to_bake((self.mesh, self.armature),
                                (getattr(settings, self.mesh_setting), getattr(settings, self.armature_setting)))
        if not any(found):
            raise BakeError(self.missing_rig)
        return found

    def _take(self, context: bpy.types.Context) -> tuple[str, Path]:
        """(name, path) of the take to bake: the operator's (a listed name or a file), else the selected."""
        if self.take:
            listed = context.scene.face_mocap.takes.get(self.take)
            if listed is not None:
                return listed.name, takes_io.resolve(listed)
            path = Path(bpy.path.abspath(self.take))
            if not path.is_file():
                raise TakeError(f"no take named '{self.take}' in the list, and no such take file")
            return takes_io.take_stem(path), path
        item = takes_io.active_take(context.scene)
        if item is None:
            raise TakeError("Select a take in the takes list")
        return item.name, takes_io.resolve(item)

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            mesh, armature = self._targets(context)
            take_name, take_path = self._take(context)
        except (BakeError, TakeError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        start = self.start_frame if self.properties.is_property_set("start_frame") else None
        detected = ""
        if self.detect_when_empty and not any(obj.face_mocap.rows for obj in (mesh, armature) if obj):
            count, _ = driver.auto_detect(context.scene, mesh, armature)
            detected = f" (mapping auto-detected: {count} rows)"
        wm = context.window_manager
        wm.progress_begin(0, 100)
        try:
            result = driver.bake_take(context.scene, take_path, mesh, armature, take_name, start_frame=start,
                                      progress=lambda f: wm.progress_update(int(100 * f)))
        except BakeCancelled:
            self.report({"WARNING"}, "Bake cancelled")
            return {"CANCELLED"}
        except (BakeError, MappingError, TakeError, CaptureError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        finally:
            wm.progress_end()
        start, end = result.frame_range
        message = (f"Baked take '{take_name}': {len(result.actions)} action(s), {result.fcurve_count} curves, "
                   f"frames {start:g}-{end:g}{detected}")
        if result.skipped:
            message += f"; skipped {len(result.skipped)}: " + "; ".join(result.skipped[:3])
        self.report({"INFO"}, message)
        return {"FINISHED"}


class FACEMOCAP_OT_bake_take(_BakeBase, bpy.types.Operator):
    """Bake the selected take onto the target mesh and armature as keyframes (one action each)"""

    bl_idname = "facemocap.bake_take"
    bl_label = "Bake Take"
    bl_options = {"REGISTER", "UNDO"}


class FACEMOCAP_OT_retarget_take(_BakeBase, bpy.types.Operator):
    """Bake the selected take onto another rig, with that rig's own mapping"""

    bl_idname = "facemocap.retarget_take"
    bl_label = "Retarget Take"
    bl_options = {"REGISTER", "UNDO"}

    mesh_setting = "retarget_mesh"
    armature_setting = "retarget_armature"
    missing_rig = "Pick the other rig's mesh or armature under Retarget"
    detect_when_empty = True


classes = (
    FACEMOCAP_OT_take_rename,
    FACEMOCAP_OT_take_delete,
    FACEMOCAP_OT_take_refresh,
    FACEMOCAP_OT_import_video,
    FACEMOCAP_OT_import_cancel,
    FACEMOCAP_OT_bake_take,
    FACEMOCAP_OT_retarget_take,
)

register, unregister = bpy.utils.register_classes_factory(classes)
