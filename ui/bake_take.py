"""Bake a take file onto a rig: its frames through the rig's mapping (map_take_chunks: read a
few chunks at a time, calibrated, smoothed without lag), then bake.bake_values() writes the
actions (bake_run.py: in steps)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..capture.take_people import person_chunks
from ..capture.takes import ForwardOnly, TakeInfo, take_info
from ..mapping.calibration import Calibration
from ..mapping.errors import RetargetError
from ..mapping.canonical import CanonicalFace
from ..mapping.pipeline import map_take_chunks
from ..mapping.retarget import MappingTable
from ..mapping.smoothing import SmoothingSettings
from . import bake, mapping_tables, scene_settings, take_timing


@dataclass
class PreparedBake:
    """A take mapped through a rig's table, ready to be written (nothing in the file changed yet)."""

    values: dict  # {Target: one value per take frame}
    times_s: np.ndarray
    settings: bake.BakeSettings
    dropped: int  # frames left out because their timestamps went backwards

    def steps(self):
        """bake.bake_steps() over the mapped values, handed over to it: a bake of several rigs
        (BakeBatch) holds the mapped take of the rig being written, not of every rig written."""
        values, self.values = self.values, {}
        return bake.bake_steps(values, self.times_s, self.settings)

    def finish(self, result: bake.BakeResult) -> bake.BakeResult:
        """The result, with what was left out of the take."""
        if self.dropped:
            result.skipped.append(f"{self.dropped} frame(s) whose timestamps went backwards")
        return result


@dataclass
class TakeMapping:
    """A take to map through a rig's table, with everything read from Blender beforehand: run()
    touches no bpy, so Bake Take runs it in a worker thread while Blender stays responsive."""

    path: Path
    table: MappingTable
    calibration: Calibration
    smoothing: str | SmoothingSettings
    face: CanonicalFace | None
    person: int
    info: TakeInfo  # from the take's headers: its frame count sizes the channels' one array
    frames_read: int = 0  # how far run() is, for a progress bar

    def run(self, stop: threading.Event | None = None) -> tuple[np.ndarray, dict, int]:
        """(times in seconds, {Target: values}, frames dropped for going backwards); BakeCancelled
        once `stop` is set (checked between pieces of the take)."""
        forward = ForwardOnly()  # takes recorded before the writer dropped such frames

        def pieces():
            for piece in map(forward, person_chunks(self.path, self.person)):
                if stop is not None and stop.is_set():
                    raise bake.BakeCancelled("the bake was cancelled while the take was mapped")
                yield piece
                self.frames_read += piece.frame_count

        # the take a few chunks at a time: Blender never holds its landmarks, only the mapped channels
        times, values = map_take_chunks(pieces(), self.table, self.calibration, self.smoothing, face=self.face,
                                        zero_phase_smoothing=True, frame_count=self.info.frame_count)
        return times, values, forward.dropped


def take_mapping(scene: bpy.types.Scene, path: Path, mesh, armature, *,
                 smoothing: str | bool | None = None, calibration: Calibration | None = None,
                 person: int = 1) -> TakeMapping:
    """What mapping the take onto these objects needs, read from the scene (the main thread)."""
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
    return TakeMapping(path, table, calibration or scene_settings.scene_calibration(scene), smoothing,
                       scene_settings.canonical_face(), person, take_info(path))


def prepared_bake(scene: bpy.types.Scene, mapping: TakeMapping, name: str, mapped: tuple[np.ndarray, dict, int], *,
                  start_frame: float | None = None, start_at: str | None = None, takes: str | None = None,
                  reduce_tolerance: float | None = None) -> PreparedBake:
    """The mapped take with the scene's bake settings (the main thread: nothing in the file changes)."""
    times, values, dropped = mapped
    if len(times) < 2:
        raise bake.BakeError(f"take '{name}' has {len(times)} frame(s): record a longer take")
    settings = scene.face_mocap
    if reduce_tolerance is None:
        reduce_tolerance = settings.bake_tolerance if settings.bake_reduce else 0.0
    if start_frame is None:
        start_frame = take_timing.start_frame(scene, mapping.info.metadata, name, start_at)
    as_strips = {"STRIPS": True, "ACTION": False}.get(takes or settings.bake_takes)  # AUTO: None
    bake_settings = bake.BakeSettings(fps=bake.scene_fps(scene), name=name, reduce_tolerance=reduce_tolerance,
                                      start_frame=start_frame, as_strips=as_strips)
    return PreparedBake(values, times, bake_settings, dropped)


def prepare_bake(scene: bpy.types.Scene, path: Path, mesh, armature, name: str, *,
                 start_frame: float | None = None, start_at: str | None = None, takes: str | None = None,
                 smoothing: str | bool | None = None, calibration: Calibration | None = None,
                 reduce_tolerance: float | None = None, person: int = 1) -> PreparedBake:
    """Read a take and map it through the objects' tables, all on this thread (options as
    bake_take's). `person`: whose frames drive the rig, by rank (1 = the performer, 2 = the
    next person seen...; capture/take_people.py)."""
    mapping = take_mapping(scene, path, mesh, armature, smoothing=smoothing, calibration=calibration, person=person)
    return prepared_bake(scene, mapping, name, mapping.run(), start_frame=start_frame, start_at=start_at,
                         takes=takes, reduce_tolerance=reduce_tolerance)


def bake_take(scene: bpy.types.Scene, path: Path, mesh, armature, name: str, progress=None, **options
              ) -> bake.BakeResult:
    """Map a take file through the objects' tables and bake it to actions on them.

    Options left as None come from the scene's bake settings (the Bake panel): start_at
    "FRAME", "CURRENT" or "TIMECODE" (a given start_frame wins), takes "AUTO", "STRIPS" or
    "ACTION"; smoothing is a preset name ("off", "light", ...) or False; also calibration,
    reduce_tolerance and person (whose frames, by rank: 1 the performer)."""
    job = prepare_bake(scene, path, mesh, armature, name, **options)
    return job.finish(bake.bake_values(job.values, job.times_s, job.settings, progress))
