"""The "Face Mocap" tab in the 3D viewport's sidebar."""

from __future__ import annotations

import functools

import bpy

from ..mapping.calibration import Calibration, default_top
from ..mapping.channels import ARKIT_NAMES
from ..mapping.errors import MappingError
from . import live
from .demo_head import FACEMOCAP_OT_add_demo_head
from .tracked_mesh import FACEMOCAP_OT_add_tracked_face_mesh
from .operators_capture import (FACEMOCAP_OT_calibrate_neutral, FACEMOCAP_OT_calibrate_range,
                                FACEMOCAP_OT_clear_calibration, FACEMOCAP_OT_edit_channel_calibration,
                                FACEMOCAP_OT_record, FACEMOCAP_OT_start_capture, FACEMOCAP_OT_stop_capture,
                                FACEMOCAP_OT_stop_recording)
from .operators_mapping import (FACEMOCAP_OT_auto_detect_mapping, FACEMOCAP_OT_export_livelink,
                                FACEMOCAP_OT_import_livelink, FACEMOCAP_OT_load_preset,
                                FACEMOCAP_OT_mapping_row_add, FACEMOCAP_OT_mapping_row_remove,
                                FACEMOCAP_OT_save_preset)
from .operators_takes import (FACEMOCAP_OT_bake_take, FACEMOCAP_OT_import_cancel, FACEMOCAP_OT_import_video,
                              FACEMOCAP_OT_retarget_take, FACEMOCAP_OT_take_delete, FACEMOCAP_OT_take_rename)

STATE_ICONS = {"idle": "PAUSE", "starting": "SORTTIME", "running": "PLAY", "failed": "ERROR"}


class FACEMOCAP_UL_mapping(bpy.types.UIList):
    """Rows of a mapping table: enabled, source channel -> target, factor."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        row.prop(item, "source", text="", emboss=False)
        row.label(icon="FORWARD")
        row.prop(item, "target", text="", emboss=False)
        if item.target_type in ("BONE_ROTATION", "BONE_LOCATION"):
            row.prop(item, "axis", text="")
        row.prop(item, "factor", text="")


class FACEMOCAP_UL_takes(bpy.types.UIList):
    """Takes: name, length, frames, source."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "name", text="", emboss=False, icon="FILE_MOVIE" if item.complete else "ERROR")
        row.label(text=f"{item.duration:.1f} s")
        row.label(text=f"{item.frame_count} fr")
        row.label(text=item.source)


class _FaceMocapPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Face Mocap"


class FACEMOCAP_PT_main(_FaceMocapPanel, bpy.types.Panel):
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


def draw_status(layout: bpy.types.UILayout, runtime) -> None:
    """Running, fps, latency, face found or lost, and the last error in words."""
    box = layout.box()
    state = runtime.state
    box.label(text=f"Status: {state.capitalize()}", icon=STATE_ICONS.get(state, "INFO"))
    if state in ("starting", "running"):
        row = box.row()
        row.label(text=f"{runtime.fps:.0f} fps")
        row.label(text=f"{runtime.latency_ms:.0f} ms")
        row.label(text="Face found" if runtime.face_found else "Face lost",
                  icon="CHECKMARK" if runtime.face_found else "ERROR")
    if runtime.recording:
        box.label(text=f"Recording: {runtime.frames_recorded} frames", icon="REC")
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


class FACEMOCAP_PT_capture_options(_FaceMocapPanel, bpy.types.Panel):
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


class FACEMOCAP_PT_targets(_FaceMocapPanel, bpy.types.Panel):
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
    layout.label(text=f"{obj.name}: {len(character.rows)} rows"
                      + (f" ({character.preset})" if character.preset else ""), icon="OUTLINER_OB_" + obj.type)
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
        if item.target_type in ("BONE_ROTATION", "BONE_LOCATION"):
            box.prop(item, "axis")
        box.prop(item, "factor")
        box.prop(item, "offset")
        sub = box.column(align=True)
        sub.prop(item, "min")
        sub.prop(item, "max")


class FACEMOCAP_PT_smoothing(_FaceMocapPanel, bpy.types.Panel):
    """Live smoothing preset and its One Euro parameters; Calibrate Neutral."""

    bl_label = "Smoothing & Calibration"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.face_mocap
        layout.prop(settings, "smoothing")
        if settings.smoothing == "custom":
            col = layout.column(align=True)
            for kind in ("shape", "rotation", "location"):
                row = col.row(align=True)
                row.prop(settings, f"{kind}_min_cutoff", text=f"{kind.title()} Cutoff")
                row.prop(settings, f"{kind}_beta", text="Beta")
            col.prop(settings, "d_cutoff")
        row = layout.row(align=True)
        row.operator(FACEMOCAP_OT_calibrate_neutral.bl_idname, icon="USER").from_take = False
        if len(settings.takes):  # the frame is set in the Adjust Last Operation panel
            row.operator(FACEMOCAP_OT_calibrate_neutral.bl_idname, text="From Take").from_take = True
        row.operator(FACEMOCAP_OT_clear_calibration.bl_idname, text="", icon="X")
        row = layout.row(align=True)
        rig = live.rig()
        measuring = rig is not None and rig.pipeline.measuring_range
        row.operator(FACEMOCAP_OT_calibrate_range.bl_idname, icon="REC" if measuring else "FULLSCREEN_ENTER",
                     text="Finish Range" if measuring else "Range of Motion").from_take = False
        if len(settings.takes):  # the frames are set in the Adjust Last Operation panel
            row.operator(FACEMOCAP_OT_calibrate_range.bl_idname, text="From Take").from_take = True
        if measuring:
            layout.label(text="Make your extremes: eyes shut, jaw open, big smile, brows up...", icon="INFO")
        layout.label(text="Calibrated" if settings.calibration else "Not calibrated",
                     icon="CHECKMARK" if settings.calibration else "INFO")


@functools.lru_cache(maxsize=4)
def _calibration(text: str) -> Calibration:
    """The scene's calibration, parsed once per change (panels redraw often)."""
    try:
        return Calibration.from_json(text) if text else Calibration()
    except MappingError:
        return Calibration()


class FACEMOCAP_PT_channel_ranges(_FaceMocapPanel, bpy.types.Panel):
    """Each expression's live value against its range: what reads weak shows at once."""

    bl_label = "Channel Ranges"
    bl_parent_id = "FACEMOCAP_PT_smoothing"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        cal = _calibration(context.scene.face_mocap.calibration)
        rig = live.rig()
        result = rig.last_result if rig is not None else None
        if result is None or not result.face_found:
            layout.label(text="Start Capture to see live values", icon="INFO")
        col = layout.column(align=True)
        for i, name in enumerate(ARKIT_NAMES[:-1]):  # tongueOut is never tracked
            c = cal.get(name)
            low, high = c.range if c.range is not None else (c.offset, default_top(name))
            row = col.row(align=True)
            row.label(text=name)
            if result is not None and result.face_found:
                value = float(result.channels[i])
                raw = float(result.raw[i]) if result.raw is not None else float("nan")
                row.progress(factor=min(max(value, 0.0), 1.0), text=f"{value:.2f}  (raw {raw:.2f} of {high:.2f})")
            else:
                row.label(text=f"{low:.2f} .. {high:.2f}")
            row.operator(FACEMOCAP_OT_edit_channel_calibration.bl_idname, text="", icon="PREFERENCES").channel = name


class FACEMOCAP_PT_takes(_FaceMocapPanel, bpy.types.Panel):
    """Record, the takes list, Import Video, Bake and Retarget."""

    bl_label = "Takes"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.face_mocap
        runtime = context.window_manager.face_mocap
        row = layout.row(align=True)
        row.prop(settings, "take_name", text="")
        if runtime.recording:
            row.operator(FACEMOCAP_OT_stop_recording.bl_idname, icon="PAUSE")
        else:
            row.operator(FACEMOCAP_OT_record.bl_idname, icon="REC")
        row = layout.row()
        row.template_list(FACEMOCAP_UL_takes.__name__, "", settings, "takes", settings, "active_take", rows=3)
        col = row.column(align=True)
        col.operator(FACEMOCAP_OT_take_rename.bl_idname, text="", icon="GREASEPENCIL")
        col.operator(FACEMOCAP_OT_take_delete.bl_idname, text="", icon="TRASH")
        if runtime.importing:
            row = layout.row(align=True)
            row.prop(runtime, "import_progress", text="Importing", slider=True)
            row.operator(FACEMOCAP_OT_import_cancel.bl_idname, text="", icon="CANCEL")
        else:
            layout.operator(FACEMOCAP_OT_import_video.bl_idname, icon="FILE_MOVIE")
        row = layout.row(align=True)
        row.operator(FACEMOCAP_OT_import_livelink.bl_idname, text="Import CSV", icon="IMPORT")
        row.operator(FACEMOCAP_OT_export_livelink.bl_idname, text="Export CSV", icon="EXPORT")


class FACEMOCAP_PT_bake(_FaceMocapPanel, bpy.types.Panel):
    """Bake the active take onto the targets, or retarget it onto another rig."""

    bl_label = "Bake"
    bl_parent_id = "FACEMOCAP_PT_takes"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.face_mocap
        layout.use_property_split = True
        layout.prop(settings, "bake_start_frame")
        layout.prop(settings, "bake_smoothing")
        row = layout.row(heading="Reduce Keys")
        row.prop(settings, "bake_reduce", text="")
        sub = row.row()
        sub.active = settings.bake_reduce
        sub.prop(settings, "bake_tolerance", text="")
        layout.operator(FACEMOCAP_OT_bake_take.bl_idname, icon="KEYINGSET")
        layout.operator(FACEMOCAP_OT_add_tracked_face_mesh.bl_idname, icon="MESH_DATA")
        box = layout.box()
        box.label(text="Retarget onto another rig")
        box.prop(settings, "retarget_mesh")
        box.prop(settings, "retarget_armature")
        box.operator(FACEMOCAP_OT_retarget_take.bl_idname, icon="ARMATURE_DATA")


classes = (
    FACEMOCAP_UL_mapping,
    FACEMOCAP_UL_takes,
    FACEMOCAP_PT_main,
    FACEMOCAP_PT_capture_options,
    FACEMOCAP_PT_targets,
    FACEMOCAP_PT_smoothing,
    FACEMOCAP_PT_channel_ranges,
    FACEMOCAP_PT_takes,
    FACEMOCAP_PT_bake,
)

register, unregister = bpy.utils.register_classes_factory(classes)
