"""The "Smoothing & Calibration" panel and its Channel Ranges subpanel (each expression's live
value against its calibrated range)."""

from __future__ import annotations

import functools

import bpy

from ..mapping.calibration import Calibration, default_top
from ..mapping.channels import ARKIT_NAMES
from ..mapping.errors import MappingError
from . import live
from .i18n import iface_
from .operators_capture import (FACEMOCAP_OT_calibrate_neutral, FACEMOCAP_OT_calibrate_range,
                                FACEMOCAP_OT_clear_calibration, FACEMOCAP_OT_edit_channel_calibration)
from .panels import FaceMocapPanel

CUTOFF_LABELS = {"shape": "Shape Cutoff", "rotation": "Rotation Cutoff", "location": "Location Cutoff"}


class FACEMOCAP_PT_smoothing(FaceMocapPanel, bpy.types.Panel):
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
                row.prop(settings, f"{kind}_min_cutoff", text=CUTOFF_LABELS[kind])
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


class FACEMOCAP_PT_channel_ranges(FaceMocapPanel, bpy.types.Panel):
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
                row.progress(factor=min(max(value, 0.0), 1.0), translate=False,
                             text=iface_("{value:.2f}  (raw {raw:.2f} of {top:.2f})").format(value=value, raw=raw,
                                                                                          top=high))
            else:
                row.label(text=f"{low:.2f} .. {high:.2f}", translate=False)  # numbers only
            row.operator(FACEMOCAP_OT_edit_channel_calibration.bl_idname, text="", icon="PREFERENCES").channel = name


classes = (
    FACEMOCAP_PT_smoothing,
    FACEMOCAP_PT_channel_ranges,
)

register, unregister = bpy.utils.register_classes_factory(classes)
