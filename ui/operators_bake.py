"""Bake Take and Retarget Take: the active take (or one a script names) -> actions on a rig."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import IntProperty, StringProperty

from ..capture.takes import TakeError
from ..link.errors import SessionError
from ..mapping.errors import MappingError
from . import characters, live, reference_media, takes_io
from .bake import BakeError, objects_to_bake
from .bake_run import BakeBatch, BakeRun, on_event
from .i18n import iface_, rpt_
from .operators_takes import end_progress, take_poll


class _BakeBase:
    """Shared by Bake and Retarget: the active take -> actions on a rig named by two settings."""

    mesh_setting = "target_mesh"
    armature_setting = "target_armature"
    missing_rig = "Pick a target mesh or armature under Targets"
    detect_when_empty = False  # Retarget: a rig without a table gets an auto-detected one
    _run: BakeBatch | None = None
    _timer = None
    with_characters = True  # Bake: the list's characters too, each from its own person (not Retarget)

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
        """Start the bake: modal with a progress bar (Esc cancels) when there is a window, all at
        once for scripts and `blender -b`."""
        try:
            mesh, armature = self._targets(context)
            take_name, take_path = self._take(context)
        except (BakeError, TakeError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        start = self.start_frame if self.properties.is_property_set("start_frame") else None
        runs = [BakeRun(context.scene, take_path, take_name, mesh, armature, start_frame=start,
                        detect_when_empty=self.detect_when_empty)]
        if self.with_characters and not (self.mesh or self.armature):  # a script's own objects: those alone
            runs += characters.character_runs(context.scene, take_path, take_name, start)
        self._run = BakeBatch(runs)
        if bpy.app.background or context.window is None:
            return self._reported(self._run.run_all)
        wm = context.window_manager
        wm.progress_begin(0, 100)
        self._timer = wm.event_timer_add(0.01, window=context.window)
        wm.modal_handler_add(self)
        self._show_progress(context)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event) -> set[str]:
        if event.type not in ("ESC", "TIMER"):
            return {"RUNNING_MODAL"}  # the rig must not change under the bake: other input waits
        state = self._reported(lambda: on_event(self._run, event.type))
        if state == {"RUNNING_MODAL"}:
            self._show_progress(context)
        else:
            self._end(context)
        return state

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the operator (another file loads, the window closes): nothing is left behind."""
        self._run.cancel()
        self._end(context)

    def _reported(self, work) -> set[str]:
        """Run work (a whole bake, or one event of it) and report how it ended."""
        try:
            outcome = work()
        except (BakeError, MappingError, TakeError, SessionError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if outcome == "CANCELLED":
            self.report({"WARNING"}, rpt_("Bake cancelled: the rig is as it was"))
            return {"CANCELLED"}
        if outcome == "RUNNING":
            return {"RUNNING_MODAL"}
        run = self._run.main
        media = reference_media.after_bake(run.scene, run.take_path, run.take_name, run.result.frame_range)
        for warning in media.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, "; ".join([self._run.report(), *media.infos]))
        return {"FINISHED"}

    def _show_progress(self, context: bpy.types.Context) -> None:
        percent, run = int(100 * self._run.fraction), self._run.current
        context.window_manager.progress_update(percent)
        text = (iface_("Baking take '{take}' onto {character}: {percent}% (Esc to cancel)") if run.label
                else iface_("Baking take '{take}': {percent}% (Esc to cancel)"))
        context.workspace.status_text_set(text.format(take=run.take_name, character=run.label, percent=percent))

    def _end(self, context: bpy.types.Context) -> None:
        end_progress(self, context.window_manager)
        if context.workspace is not None:
            context.workspace.status_text_set(None)


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
    with_characters = False


classes = (
    FACEMOCAP_OT_bake_take,
    FACEMOCAP_OT_retarget_take,
)

register, unregister = bpy.utils.register_classes_factory(classes)
