"""The More Characters panel and its operators: characters beyond the scene's targets, each
following one more person in view (ui/characters.py). Closed by default: a scene with one
character never needs it."""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from . import live
from .i18n import iface_, rpt_
from .panels import FaceMocapPanel


def _next_person(scene: bpy.types.Scene) -> int:
    """The rank after the highest one followed (the targets follow 1, the performer)."""
    return max([1, *(item.person for item in scene.face_mocap.characters)]) + 1


def add_character(scene: bpy.types.Scene, mesh, armature, name: str = "") -> object:
    """A new character in the list for these objects, following the next person."""
    settings = scene.face_mocap
    person = _next_person(scene)
    item = settings.characters.add()
    item.name = name or (mesh or armature).name
    item.mesh, item.armature, item.person = mesh, armature, person
    settings.active_character = len(settings.characters) - 1
    return item


def _selected_rig(context: bpy.types.Context) -> tuple:
    """(mesh, armature) from the selection: a selected mesh and a selected armature, or the mesh's own armature."""
    selected = list(context.selected_objects)
    mesh = next((obj for obj in selected if obj.type == "MESH"), None)
    armature = next((obj for obj in selected if obj.type == "ARMATURE"), None)
    if armature is None and mesh is not None and mesh.parent is not None and mesh.parent.type == "ARMATURE":
        armature = mesh.parent
    return mesh, armature


class FACEMOCAP_OT_character_add(bpy.types.Operator):
    """Add the selected mesh and/or armature as one more character, following the next person in view"""

    bl_idname = "facemocap.character_add"
    bl_label = "Add Character"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not any(_selected_rig(context)):
            cls.poll_message_set("Select the character's mesh and/or armature")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        mesh, armature = _selected_rig(context)
        item = add_character(context.scene, mesh, armature)
        self.report({"INFO"}, rpt_("Added character '{name}', following person {person}").format(
            name=item.name, person=item.person))
        return {"FINISHED"}


class FACEMOCAP_OT_character_remove(bpy.types.Operator):
    """Remove the active character from the list (its objects and their mapping stay)"""

    bl_idname = "facemocap.character_remove"
    bl_label = "Remove Character"
    bl_options = {"REGISTER", "UNDO"}

    name: StringProperty(name="Character", options={"SKIP_SAVE"}, description="Its name; empty: the active one")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if live.is_running():
            cls.poll_message_set("Stop Capture first")
            return False
        return len(context.scene.face_mocap.characters) > 0

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.face_mocap
        index = settings.characters.find(self.name) if self.name else settings.active_character
        if not 0 <= index < len(settings.characters):
            self.report({"ERROR"}, rpt_("No character named '{name}'").format(name=self.name))
            return {"CANCELLED"}
        settings.characters.remove(index)
        settings.active_character = min(index, len(settings.characters) - 1)
        return {"FINISHED"}


class FACEMOCAP_UL_characters(bpy.types.UIList):
    def draw_item(self, _context, layout, _data, item, _icon, _active_data, _active_prop, _index=0, _flt_flag=0):
        row = layout.row(align=True)
        row.prop(item, "name", text="", emboss=False, icon="OUTLINER_OB_ARMATURE")
        row.prop(item, "person", text="Person")


class FACEMOCAP_PT_characters(FaceMocapPanel, bpy.types.Panel):
    """Characters beyond the targets: one more person each."""

    bl_idname = "FACEMOCAP_PT_characters"
    bl_label = "More Characters"
    bl_parent_id = "FACEMOCAP_PT_targets"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.face_mocap
        col = layout.column(align=True)
        col.label(text="The targets above follow person 1, the performer.")
        col.label(text="Each character here follows one more person:")
        col.label(text="set Faces in Capture Options to 2 or more.")
        row = layout.row()
        row.template_list("FACEMOCAP_UL_characters", "", settings, "characters", settings, "active_character", rows=2)
        buttons = row.column(align=True)
        buttons.operator(FACEMOCAP_OT_character_add.bl_idname, text="", icon="ADD")
        buttons.operator(FACEMOCAP_OT_character_remove.bl_idname, text="", icon="REMOVE")
        layout.operator("facemocap.add_demo_head", text="Add Demo Head as a Character", icon="MONKEY").as_character = True
        if not 0 <= settings.active_character < len(settings.characters):
            return
        item = settings.characters[settings.active_character]
        box = layout.box()
        box.prop(item, "mesh")
        box.prop(item, "armature")
        box.prop(item, "person")
        rows = sum(len(obj.face_mocap.rows) for obj in (item.mesh, item.armature) if obj is not None)
        box.label(text=iface_("{rows} mapping rows on its objects").format(rows=rows))
        if item.calibration:
            box.operator(FACEMOCAP_OT_character_forget_calibration.bl_idname, icon="X")


class FACEMOCAP_OT_character_forget_calibration(bpy.types.Operator):
    """Drop the active character's calibration (it then uses the defaults, as before any calibration)"""

    bl_idname = "facemocap.character_forget_calibration"
    bl_label = "Forget Calibration"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.face_mocap
        if 0 <= settings.active_character < len(settings.characters):
            settings.characters[settings.active_character].calibration = ""
        return {"FINISHED"}


classes = (
    FACEMOCAP_OT_character_add,
    FACEMOCAP_OT_character_remove,
    FACEMOCAP_OT_character_forget_calibration,
    FACEMOCAP_UL_characters,
    FACEMOCAP_PT_characters,
)

register, unregister = bpy.utils.register_classes_factory(classes)
