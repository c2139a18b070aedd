"""Operators on the takes list: rename, delete, refresh (and the poll of operators on the selected take)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from . import takes_io
from .i18n import rpt_


def take_poll(cls, context: bpy.types.Context) -> bool:
    """Poll of the operators on the selected take."""
    if takes_io.active_take(context.scene) is None:
        cls.poll_message_set("Select a take in the takes list")
        return False
    return True


def end_progress(operator: bpy.types.Operator, wm: bpy.types.WindowManager) -> None:
    """The end of a modal operator with a progress bar (Import Video, Bake): its timer and bar removed."""
    if operator._timer is not None:
        wm.event_timer_remove(operator._timer)
        operator._timer = None
    wm.progress_end()


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
                self.report({"ERROR"}, rpt_("Cannot delete {path}: {error}").format(path=path,
                                                                                   error=exc.strerror or exc))
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
            self.report({"INFO"}, rpt_("Listed {count} take file(s) found in the takes folder").format(count=found))
        return {"FINISHED"}


classes = (
    FACEMOCAP_OT_take_rename,
    FACEMOCAP_OT_take_delete,
    FACEMOCAP_OT_take_refresh,
)

register, unregister = bpy.utils.register_classes_factory(classes)
