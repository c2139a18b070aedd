"""The rig driven live: the mapping pipeline, the targets it writes and the pose to restore.

live.py's timer calls LiveRig.apply() with each new frame; edits made while capturing
(smoothing, calibration, mapping rows) are followed by sync().
"""

from __future__ import annotations

import bpy

from ..mapping.calibration import Calibration
from ..mapping.pipeline import LivePipeline
from . import mapping_tables, rig_apply, scene_settings
from .i18n import rpt_
from .targets import resolve


class LiveRig:
    """The rig driven live: the mapping pipeline, bound targets and a snapshot to restore."""

    SYNC_EVERY = 15  # ticks between checks for edited mapping rows (a quarter second)

    def __init__(self, pipeline: LivePipeline, scene: bpy.types.Scene) -> None:
        self.pipeline = pipeline
        self._bind_targets(scene)
        self._smoothing = scene_settings.smoothing_key(scene)
        self._calibration = self.calibration_text(scene)
        self._ticks = 0
        self.last_result = None

    def _bind_targets(self, scene: bpy.types.Scene) -> None:
        self._rows = mapping_tables.rows_signature(self.objects(scene))
        self.bound, _missing = resolve(self.pipeline.table.targets)  # objects found once, by reference
        self.snapshot = rig_apply.snapshot_rig(self.bound.values())

    @classmethod
    def from_scene(cls, scene: bpy.types.Scene) -> "LiveRig":
        """Build from the scene's targets, their tables, calibration and smoothing."""
        table = mapping_tables.scene_character_table(scene)
        pipeline = LivePipeline(scene_settings.canonical_face(), table, scene_settings.scene_calibration(scene),
                                scene_settings.smoothing_settings(scene))
        return cls(pipeline, scene)

    # What the rig is: the scene's targets here, a character of the list in ui/characters.py.
    def objects(self, scene: bpy.types.Scene) -> list:
        return mapping_tables.scene_targets(scene)

    def table(self, scene: bpy.types.Scene):
        return mapping_tables.scene_character_table(scene)

    def calibration_text(self, scene: bpy.types.Scene) -> str:
        return scene.face_mocap.calibration

    def store_calibration(self, scene: bpy.types.Scene, text: str) -> None:
        self._calibration = text
        scene.face_mocap.calibration = text

    def sync(self, scene: bpy.types.Scene) -> None:
        """Follow changes made while capturing: smoothing, calibration, targets and mapping rows."""
        key = scene_settings.smoothing_key(scene)
        if key != self._smoothing:
            self._smoothing = key
            self.pipeline.set_smoothing(scene_settings.smoothing_settings(scene))
        text = self.calibration_text(scene)
        if text != self._calibration:
            self._calibration = text
            self.pipeline.set_calibration(Calibration.from_json(text) if text else Calibration())
        self._ticks += 1
        if self._ticks % self.SYNC_EVERY:
            return
        if mapping_tables.rows_signature(self.objects(scene)) != self._rows:
            # RetargetError: shown in the panel, old table kept
            table = self.table(scene)
            self.restore()  # what the old table drove goes back before the new one drives
            self.pipeline.table = table
            self._bind_targets(scene)

    def apply(self, frame) -> None:
        """Map one frame and write it to the rig (NaN = no face: targets keep their value)."""
        result = self.pipeline.process(frame)
        self.last_result = result
        if result.face_found:
            bound = self.bound
            rig_apply.apply_frame({bound[t]: v for t, v in zip(result.targets, result.values.tolist()) if t in bound})

    def restore(self) -> None:
        """Put the rig back as it was before the capture."""
        rig_apply.restore_rig(self.snapshot)

    def calibrate(self, scene: bpy.types.Scene, seconds: float = 0.5) -> None:
        """Neutral from the last half second of faces; stored in the scene (saved with the file)."""
        self.store_calibration(scene, self.pipeline.calibrate_recent(seconds).to_json())

    def toggle_range(self, scene: bpy.types.Scene) -> str:
        """Start measuring the range of motion, or finish and store it in the scene."""
        if not self.pipeline.measuring_range:
            self.pipeline.start_range()
            return rpt_("Measuring the range of motion: make your extremes (eyes shut, jaw wide open, big smile, "
                        "brows up...), then press Finish Range")
        cal, changed = self.pipeline.finish_range()
        self.store_calibration(scene, cal.to_json())
        return rpt_("Range of motion set for {count} channel(s)").format(count=len(changed))
