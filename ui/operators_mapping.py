"""Operators on mapping tables: rows, Auto-detect, presets (user config folder), Live Link CSV."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from ..capture.takes import TakeError
from ..mapping.errors import MappingError
from . import character, livelink_io, mapping_tables, presets, takes_io
from .i18n import rpt_
from .operators_takes import take_poll


def _targets_poll(cls, context: bpy.types.Context) -> bool:
    if not mapping_tables.scene_targets(context.scene):
        cls.poll_message_set("Pick a target mesh or armature under Targets")
        return False
    return True


class FACEMOCAP_OT_mapping_row_add(bpy.types.Operator):
    """Add a mapping row to this object's table"""

    bl_idname = "facemocap.mapping_row_add"
    bl_label = "Add Mapping Row"
    bl_options = {"REGISTER", "UNDO"}

    object_name: StringProperty(name="Object")

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = bpy.data.objects.get(self.object_name)
        if obj is None:
            self.report({"ERROR"}, rpt_("Object '{name}' not found").format(name=self.object_name))
            return {"CANCELLED"}
        character = obj.face_mocap
        row = character.rows.add()
        row.target_type = "SHAPE_KEY" if obj.type == "MESH" else "BONE_ROTATION"
        character.active_row = len(character.rows) - 1
        return {"FINISHED"}


class FACEMOCAP_OT_mapping_row_remove(bpy.types.Operator):
    """Remove the active mapping row from this object's table"""

    bl_idname = "facemocap.mapping_row_remove"
    bl_label = "Remove Mapping Row"
    bl_options = {"REGISTER", "UNDO"}

    object_name: StringProperty(name="Object")

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = bpy.data.objects.get(self.object_name)
        if obj is None or not 0 <= obj.face_mocap.active_row < len(obj.face_mocap.rows):
            self.report({"ERROR"}, "Select a row to remove")
            return {"CANCELLED"}
        character = obj.face_mocap
        character.rows.remove(character.active_row)
        character.active_row = max(0, min(character.active_row, len(character.rows) - 1))
        return {"FINISHED"}


class FACEMOCAP_OT_auto_detect_mapping(bpy.types.Operator):
    """Build the mapping tables from the shape-key and bone names of the targets"""

    bl_idname = "facemocap.auto_detect_mapping"
    bl_label = "Auto-detect"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _targets_poll(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            mapped, unmapped = presets.auto_detect(context.scene)
        except MappingError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not mapped:
            self.report({"WARNING"}, "No known shape key or bone names found: add rows by hand or load a preset")
            return {"CANCELLED"}
        message = f"Mapped {mapped} targets"
        settings = context.scene.face_mocap
        others = character.character_meshes(settings.target_mesh, settings.target_armature,
                                            settings.target_collection)
        if others:
            message += f"; {settings.target_mesh.name}'s shape keys also drive {', '.join(o.name for o in others)}"
        if unmapped:
            message += f"; not mapped: {', '.join(unmapped[:8])}" + (" ..." if len(unmapped) > 8 else "")
        self.report({"INFO"}, message)
        return {"FINISHED"}


_preset_menu: list[tuple[str, str, str]] = []  # Blender keeps pointers to these strings: Python must too


def _preset_items(self, context) -> list[tuple[str, str, str]]:
    """The presets for the menu; the same list (same string objects) until the presets change."""
    items = [(name, name, where) for name, where in presets.preset_names()] or [("", "(no presets)", "")]
    if items != _preset_menu:
        _preset_menu[:] = items  # the old strings go only when the menu has new ones
    return _preset_menu


class FACEMOCAP_OT_load_preset(bpy.types.Operator):
    """Fill the targets' mapping tables from a preset (built in or saved by you)"""

    bl_idname = "facemocap.load_preset"
    bl_label = "Load Mapping Preset"
    bl_options = {"REGISTER", "UNDO"}
    bl_property = "preset"

    preset: EnumProperty(name="Preset", items=_preset_items)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _targets_poll(cls, context)

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        skipped = presets.skipped_presets()
        if skipped:  # said once here, not on every redraw of the menu
            more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
            self.report({"WARNING"}, "; ".join(skipped[:3]) + more)
        context.window_manager.invoke_search_popup(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            count = presets.load_preset(context.scene, self.preset)
        except MappingError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, rpt_("Preset '{preset}': {rows} rows").format(preset=self.preset, rows=count))
        return {"FINISHED"}


class FACEMOCAP_OT_save_preset(bpy.types.Operator):
    """Save the targets' mapping tables as a preset in your user config folder"""

    bl_idname = "facemocap.save_preset"
    bl_label = "Save Mapping Preset"
    bl_options = {"REGISTER"}

    name: StringProperty(name="Name", default="My Rig")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _targets_poll(cls, context)

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            path = presets.save_preset(context.scene, self.name)
        except (MappingError, OSError) as exc:
            self.report({"ERROR"}, rpt_("Cannot save the preset: {error}").format(error=exc))
            return {"CANCELLED"}
        self.report({"INFO"}, rpt_("Preset saved: {path}").format(path=path))
        return {"FINISHED"}


class FACEMOCAP_OT_import_livelink(bpy.types.Operator):
    """Import a Live Link Face CSV (Epic's iPhone app) as a take"""

    bl_idname = "facemocap.import_livelink"
    bl_label = "Import Live Link CSV"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH")
    filter_glob: StringProperty(default="*.csv", options={"HIDDEN"})

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        wm = context.window_manager
        wm.progress_begin(0, 100)  # a long CSV takes seconds: show that it moves
        try:
            item, notes = livelink_io.import_livelink(context.scene, bpy.path.abspath(self.filepath),
                                                 progress=lambda f: wm.progress_update(int(100 * f)))
        except (MappingError, TakeError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        finally:
            wm.progress_end()
        message = f"Imported {item.frame_count} frames into take '{item.name}'"
        if notes:  # lost tracking and the longest gap, what was skipped
            message += f"; {notes}"
        self.report({"INFO"}, message)
        return {"FINISHED"}


class FACEMOCAP_OT_export_livelink(bpy.types.Operator):
    """Export the selected take as a Live Link Face CSV"""

    bl_idname = "facemocap.export_livelink"
    bl_label = "Export Live Link CSV"
    bl_options = {"REGISTER"}

    filepath: StringProperty(subtype="FILE_PATH")
    filter_glob: StringProperty(default="*.csv", options={"HIDDEN"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return take_poll(cls, context)

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        self.filepath = takes_io.safe_name(takes_io.active_take(context.scene).name) + ".csv"
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        take = takes_io.active_take(context.scene)
        try:
            path = livelink_io.export_livelink(context.scene, takes_io.resolve(take), bpy.path.abspath(self.filepath))
        except (MappingError, TakeError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, rpt_("Exported {path}").format(path=path))
        return {"FINISHED"}


classes = (
    FACEMOCAP_OT_mapping_row_add,
    FACEMOCAP_OT_mapping_row_remove,
    FACEMOCAP_OT_auto_detect_mapping,
    FACEMOCAP_OT_load_preset,
    FACEMOCAP_OT_save_preset,
    FACEMOCAP_OT_import_livelink,
    FACEMOCAP_OT_export_livelink,
)

register, unregister = bpy.utils.register_classes_factory(classes)
