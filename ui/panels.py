"""The "Face Mocap" tab in the 3D viewport's sidebar: source, Start/Stop and status, capture
options, targets and their mapping tables (panels_calibration.py and panels_takes.py add the
rest of the tab, in that order)."""

from __future__ import annotations

import bpy

from . import keep_ready, live
from .demo_head import FACEMOCAP_OT_add_demo_head
from .generate_shapes import FACEMOCAP_OT_generate_shape_keys
from .i18n import iface_
from .operators_capture import FACEMOCAP_OT_start_capture, FACEMOCAP_OT_stop_capture
from .operators_mapping import (FACEMOCAP_OT_auto_detect_mapping, FACEMOCAP_OT_load_preset,
                                FACEMOCAP_OT_mapping_row_add, FACEMOCAP_OT_mapping_row_remove,
                                FACEMOCAP_OT_save_preset)

STATE_ICONS = {"idle": "PAUSE", "starting": "SORTTIME", "running": "PLAY", "failed": "ERROR"}


class FACEMOCAP_UL_mapping(bpy.types.UIList):
    """Rows of a mapping table: enabled, source channel -> target, factor."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        row.prop(item, "source", text="", emboss=False)
        row.label(icon="FORWARD")
        row.prop(item, "target", text="", emboss=False)
        if item.target_type.startswith("BONE_"):
            row.prop(item, "axis", text="")
        row.prop(item, "factor", text="")


class FaceMocapPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Face Mocap"


class FACEMOCAP_PT_main(FaceMocapPanel, bpy.types.Panel):
    """Source, Start/Stop Capture and the capture status."""

    bl_label = "Face Mocap"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.face_mocap
        runtime = context.window_manager.face_mocap
        running = live.is_running()
        col = layout.column()
        col.enabled = not running
        col.prop(settings, "source_type", expand=True)
        if settings.source_type == "WEBCAM":
            row = col.row(align=True)
            row.prop(settings, "use_default_camera", text="Default")
            sub = row.row(align=True)
            sub.active = not settings.use_default_camera
            sub.prop(settings, "camera_index")
            col.prop(settings, "camera_resolution")
        else:
            col.prop(settings, "video_path")
            row = col.row(align=True)
            row.prop(settings, "realtime")
            row.prop(settings, "loop_video")
        col.prop(settings, "mirror")
        row = layout.row(align=True)
        row.scale_y = 1.4
        if running:
            row.operator(FACEMOCAP_OT_stop_capture.bl_idname, icon="PAUSE")
        else:
            row.operator(FACEMOCAP_OT_start_capture.bl_idname, icon="PLAY")
        draw_status(layout, runtime)
        layout.prop(settings, "show_preview")
        if not running:
            keep_ready.keep_capture_ready_soon()  # Keep Capture Ready (Preferences): from the first showing on


def draw_status(layout: bpy.types.UILayout, runtime) -> None:
    """Running, fps, latency, face found or lost, and the last error in words."""
    box = layout.box()
    state = runtime.state
    box.label(text=iface_("Status: {state}").format(state=iface_(state.capitalize())), translate=False,
              icon=STATE_ICONS.get(state, "INFO"))
    if state in ("starting", "running"):
        row = box.row()
        row.label(text=iface_("{fps:.0f} fps").format(fps=runtime.fps), translate=False)
        row.label(text=iface_("{ms:.0f} ms").format(ms=runtime.latency_ms), translate=False)
        row.label(text="Face found" if runtime.face_found else "Face lost",
                  icon="CHECKMARK" if runtime.face_found else "ERROR")
    if runtime.recording:
        box.label(text=iface_("Recording: {frames} frames").format(frames=runtime.frames_recorded), translate=False,
                  icon="REC")
    if runtime.last_error:
        col = box.column(align=True)
        col.alert = True
        for line in _wrap(runtime.last_error, 42):
            col.label(text=line)
    if runtime.last_note:
        col = box.column(align=True)
        for number, line in enumerate(_wrap(runtime.last_note, 42)):
            col.label(text=line, icon="INFO" if number == 0 else "BLANK1")


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


class FACEMOCAP_PT_capture_options(FaceMocapPanel, bpy.types.Panel):
    """MediaPipe options."""

    bl_label = "Capture Options"
    bl_parent_id = "FACEMOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        settings = context.scene.face_mocap
        layout.enabled = not live.is_running()
        layout.prop(settings, "num_faces")
        col = layout.column(heading="Confidence", align=True)
        col.prop(settings, "min_face_detection_confidence")
        col.prop(settings, "min_face_presence_confidence")
        col.prop(settings, "min_tracking_confidence")
        layout.prop(settings, "preview_fps")


class FACEMOCAP_PT_targets(FaceMocapPanel, bpy.types.Panel):
    """Target mesh and armature, presets, auto-detect and the mapping tables."""

    bl_label = "Targets"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.face_mocap
        layout.prop(settings, "target_mesh")
        layout.prop(settings, "target_armature")
        layout.prop(settings, "target_collection")  # teeth, eyes... that the armature does not own
        if not (settings.target_mesh or settings.target_armature):
            layout.operator(FACEMOCAP_OT_add_demo_head.bl_idname, icon="MONKEY")  # try it without a rig
        layout.operator(FACEMOCAP_OT_generate_shape_keys.bl_idname, icon="SHAPEKEY_DATA")  # for the active mesh
        row = layout.row(align=True)
        row.operator(FACEMOCAP_OT_auto_detect_mapping.bl_idname, icon="VIEWZOOM")
        row.operator(FACEMOCAP_OT_load_preset.bl_idname, text="Load Preset", icon="PRESET")
        row.operator(FACEMOCAP_OT_save_preset.bl_idname, text="", icon="ADD")
        for obj in (settings.target_mesh, settings.target_armature):
            if obj is not None:
                draw_mapping_table(layout, obj)


def draw_mapping_table(layout: bpy.types.UILayout, obj: bpy.types.Object) -> None:
    """One object's mapping rows with add/remove and the active row's details."""
    character = obj.face_mocap
    title = iface_("{object}: {rows} rows").format(object=obj.name, rows=len(character.rows))
    if character.preset:
        title += f" ({character.preset})"  # a preset's name: not translated
    layout.label(text=title, translate=False, icon="OUTLINER_OB_" + obj.type)
    row = layout.row()
    row.template_list(FACEMOCAP_UL_mapping.__name__, obj.name, character, "rows", character, "active_row", rows=4)
    col = row.column(align=True)
    col.operator(FACEMOCAP_OT_mapping_row_add.bl_idname, text="", icon="ADD").object_name = obj.name
    col.operator(FACEMOCAP_OT_mapping_row_remove.bl_idname, text="", icon="REMOVE").object_name = obj.name
    if 0 <= character.active_row < len(character.rows):
        item = character.rows[character.active_row]
        box = layout.box()
        box.use_property_split = True
        box.prop(item, "source")
        box.prop(item, "target_type")
        box.prop(item, "target")
        if item.target_type.startswith("BONE_"):
            box.prop(item, "axis")
        box.prop(item, "factor")
        box.prop(item, "offset")
        sub = box.column(align=True)
        sub.prop(item, "min")
        sub.prop(item, "max")


classes = (
    FACEMOCAP_UL_mapping,
    FACEMOCAP_PT_main,
    FACEMOCAP_PT_capture_options,
    FACEMOCAP_PT_targets,
)

register, unregister = bpy.utils.register_classes_factory(classes)
