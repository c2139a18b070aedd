"""The "Takes" panel (record, the takes list, Import Video, Live Link CSV) and its Bake subpanel."""

from __future__ import annotations

import bpy

from .i18n import iface_
from .operators_bake import FACEMOCAP_OT_bake_take, FACEMOCAP_OT_retarget_take
from .operators_capture import FACEMOCAP_OT_record, FACEMOCAP_OT_stop_recording
from .operators_import import FACEMOCAP_OT_import_cancel, FACEMOCAP_OT_import_video
from .operators_mapping import FACEMOCAP_OT_export_livelink, FACEMOCAP_OT_import_livelink
from .operators_takes import FACEMOCAP_OT_take_delete, FACEMOCAP_OT_take_rename
from .panels import FaceMocapPanel
from .tracked_mesh import FACEMOCAP_OT_add_tracked_face_mesh


class FACEMOCAP_UL_takes(bpy.types.UIList):
    """Takes: name, length, frames, source."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "name", text="", emboss=False, icon="FILE_MOVIE" if item.complete else "ERROR")
        row.label(text=iface_("{seconds:.1f} s").format(seconds=item.duration), translate=False)
        row.label(text=iface_("{frames} fr").format(frames=item.frame_count), translate=False)
        row.label(text=item.source)
        if item.start_timecode:
            row.label(text=item.start_timecode)


class FACEMOCAP_PT_takes(FaceMocapPanel, bpy.types.Panel):
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


class FACEMOCAP_PT_bake(FaceMocapPanel, bpy.types.Panel):
    """Bake the active take onto the targets, or retarget it onto another rig."""

    bl_label = "Bake"
    bl_parent_id = "FACEMOCAP_PT_takes"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.face_mocap
        layout.use_property_split = True
        layout.prop(settings, "bake_start_frame")
        layout.prop(settings, "bake_start")
        if settings.bake_start == "TIMECODE":
            layout.prop(settings, "timecode_origin")
        layout.prop(settings, "bake_takes")
        layout.prop(settings, "bake_smoothing")
        row = layout.row(heading="Reduce Keys")
        row.prop(settings, "bake_reduce", text="")
        sub = row.row()
        sub.active = settings.bake_reduce
        sub.prop(settings, "bake_tolerance", text="")
        row = layout.row(heading="Source Video")
        row.prop(settings, "add_sound")
        row.prop(settings, "reference_video", text="Reference")
        layout.operator(FACEMOCAP_OT_bake_take.bl_idname, icon="KEYINGSET")
        layout.operator(FACEMOCAP_OT_add_tracked_face_mesh.bl_idname, icon="MESH_DATA")
        box = layout.box()
        box.label(text="Retarget onto another rig")
        box.prop(settings, "retarget_mesh")
        box.prop(settings, "retarget_armature")
        box.operator(FACEMOCAP_OT_retarget_take.bl_idname, icon="ARMATURE_DATA")


classes = (
    FACEMOCAP_UL_takes,
    FACEMOCAP_PT_takes,
    FACEMOCAP_PT_bake,
)

register, unregister = bpy.utils.register_classes_factory(classes)
