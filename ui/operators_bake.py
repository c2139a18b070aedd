"""Bake Take and Retarget Take: the active take (or one a script names) -> actions on a rig."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import IntProperty, StringProperty

try:
    from bpy.app.translations import pgettext_rpt as rpt_
except ImportError:  # Blender 4.2
    from bpy.app.translations import pgettext_tip as rpt_

from ..capture.takes import TakeError
from ..link.errors import SessionError
from ..mapping.errors import MappingError
from . import live, presets, reference_media, takes_io
from .bake import BakeCancelled, BakeError, objects_to_bake
from .bake_take import bake_take
from .operators_takes import take_poll


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
            count, _ = presets.auto_detect(context.scene, mesh, armature)
            detected = f" (mapping auto-detected: {count} rows)"
        wm = context.window_manager
        wm.progress_begin(0, 100)
        try:
            result = bake_take(context.scene, take_path, mesh, armature, take_name, start_frame=start,
                                      progress=lambda f: wm.progress_update(int(100 * f)))
        except BakeCancelled:
            self.report({"WARNING"}, "Bake cancelled")
            return {"CANCELLED"}
        except (BakeError, MappingError, TakeError, SessionError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        finally:
            wm.progress_end()
        media = reference_media.after_bake(context.scene, take_path, take_name, result.frame_range)
        for warning in media.warnings:
            self.report({"WARNING"}, warning)
        start, end = result.frame_range
        message = (f"Baked take '{take_name}': {len(result.actions)} action(s), {result.fcurve_count} curves, "
                   f"frames {start:g}-{end:g}{detected}")
        if result.strips:
            message += rpt_("; on NLA tracks named '{}'").format(take_name)
        if result.skipped:
            message += f"; skipped {len(result.skipped)}: " + "; ".join(result.skipped[:3])
        self.report({"INFO"}, "; ".join([message, *media.infos]))
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
    FACEMOCAP_OT_bake_take,
    FACEMOCAP_OT_retarget_take,
)

register, unregister = bpy.utils.register_classes_factory(classes)
