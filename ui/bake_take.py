"""Bake a take file onto a rig: its frames through the rig's mapping (map_take_chunks: read a
few chunks at a time, calibrated, smoothed without lag), then bake.bake_values() writes the
actions (bake_run.py: in steps)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..capture.take_people import person_chunks
from ..capture.takes import ForwardOnly, take_info
from ..mapping.calibration import Calibration
from ..mapping.errors import RetargetError
from ..mapping.pipeline import map_take_chunks
from . import bake, mapping_tables, scene_settings, take_timing


@dataclass
class PreparedBake:
    """A take mapped through a rig's table, ready to be written (nothing in the file changed yet)."""

    values: dict  # {Target: one value per take frame}
    times_s: np.ndarray
    settings: bake.BakeSettings
    dropped: int  # frames left out because their timestamps went backwards

    def finish(self, result: bake.BakeResult) -> bake.BakeResult:
        """The result, with what was left out of the take."""
        if self.dropped:
            result.skipped.append(f"{self.dropped} frame(s) whose timestamps went backwards")
        return result


def prepare_bake(scene: bpy.types.Scene, path: Path, mesh, armature, name: str, *,
                 start_frame: float | None = None, start_at: str | None = None, takes: str | None = None,
                 smoothing: str | bool | None = None, calibration: Calibration | None = None,
                 reduce_tolerance: float | None = None, person: int = 1) -> PreparedBake:
    """Read a take and map it through the objects' tables (options as bake_take's). `person`:
    whose frames drive the rig, by rank (1 = the performer, 2 = the next person seen...;
    capture/take_people.py)."""
    settings = scene.face_mocap
    # the collection of more meshes belongs to the scene's character, not to a retarget rig
    own = (mesh, armature) == (settings.target_mesh, settings.target_armature)
    table = mapping_tables.character_table(mesh, armature, settings.target_collection if own else None)
    if not len(table):
        names = " / ".join(obj.name for obj in (mesh, armature) if obj is not None)
        raise RetargetError(f"{names} has no mapping rows: press Auto-detect or load a preset")
    if smoothing is None:
        smoothing = scene_settings.smoothing_settings(scene) if settings.bake_smoothing else "off"
    elif smoothing is False:
        smoothing = "off"
    if reduce_tolerance is None:
        reduce_tolerance = settings.bake_tolerance if settings.bake_reduce else 0.0
    calibration = calibration or scene_settings.scene_calibration(scene)
    # the take a few chunks at a time: Blender never holds its landmarks, only the mapped channels
    forward = ForwardOnly()  # takes recorded before the writer dropped such frames
    info = take_info(path)  # the headers: the frame count, so the channels go into one array
    times, values = map_take_chunks(map(forward, person_chunks(path, person)), table, calibration, smoothing,
                                    face=scene_settings.canonical_face(), zero_phase_smoothing=True,
                                    frame_count=info.frame_count)
    if len(times) < 2:
        raise bake.BakeError(f"take '{name}' has {len(times)} frame(s): record a longer take")
    if start_frame is None:
        start_frame = take_timing.start_frame(scene, info.metadata, name, start_at)
    as_strips = {"STRIPS": True, "ACTION": False}.get(takes or settings.bake_takes)  # AUTO: None
    bake_settings = bake.BakeSettings(fps=bake.scene_fps(scene), name=name, reduce_tolerance=reduce_tolerance,
                                      start_frame=start_frame, as_strips=as_strips)
    return PreparedBake(values, times, bake_settings, forward.dropped)


def bake_take(scene: bpy.types.Scene, path: Path, mesh, armature, name: str, progress=None, **options
              ) -> bake.BakeResult:
    """Map a take file through the objects' tables and bake it to actions on them.

    Options left as None come from the scene's bake settings (the Bake panel): start_at
    "FRAME", "CURRENT" or "TIMECODE" (a given start_frame wins), takes "AUTO", "STRIPS" or
    "ACTION"; smoothing is a preset name ("off", "light", ...) or False; also calibration,
    reduce_tolerance and person (whose frames, by rank: 1 the performer)."""
    job = prepare_bake(scene, path, mesh, armature, name, **options)
    return job.finish(bake.bake_values(job.values, job.times_s, job.settings, progress))
