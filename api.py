"""Face Mocap's scripting API: the add-on's work as plain functions, for scripts, pipelines and
`blender -b`. Nothing here reads the UI context (selection, active take, areas): every input
is an argument; the scene's settings are used only where an argument is left out.

    import face_mocap.api as fm        # bl_ext.user_default.face_mocap.api in an installed Blender
    take = fm.track_video("/shots/line_012.mp4")
    fm.auto_detect(mesh=head, armature=rig)
    result = fm.bake(take, mesh=head, armature=rig, start_frame=1001, name="line_012")
    fm.export_livelink_csv(take, "/shots/line_012.csv")

Errors are raised as FaceMocapError subclasses (SessionError, BakeError, TakeError,
MappingError, LiveLinkError) with a message a user can act on.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import bpy

from .capture.takes import TakeError, take_info
from .mapping.calibration import Calibration
from .mapping.errors import MappingError
from .mapping.livelink import LiveLinkError
from .link.errors import SessionError
from .link.offline_import import OfflineImport
from .ui import livelink_io, presets, reference_media, takes_io
from .ui.bake import BakeError, BakeResult
from .ui.bake_take import bake_take
from .ui.operators_capture import capture_options

__all__ = ["FaceMocapError", "SessionError", "BakeError", "TakeError", "MappingError", "LiveLinkError",
           "track_video", "bake", "add_media", "retarget", "auto_detect", "load_preset", "save_preset",
           "import_livelink_csv", "export_livelink_csv", "BakeResult"]

FaceMocapError = (SessionError, BakeError, TakeError, MappingError, LiveLinkError)  # catch them all at once
Progress = Callable[[float], object]  # fraction done, 0..1; returning False cancels (where cancelling is possible)


def track_video(video: str | Path, take_path: str | Path | None = None, *, wait: bool = True,
                progress: Progress | None = None, scene: bpy.types.Scene | None = None) -> Path | OfflineImport:
    """Track a video file into a take with the capture process (the scene's capture options).

    take_path defaults to a new take in the scene's takes folder. With wait=True, returns the
    take's path once it is written (progress(fraction) is called as it goes; returning False
    cancels, which raises SessionError and leaves nothing behind); with wait=False, returns
    the running OfflineImport at once (poll() it, cancel() it)."""
    video = Path(video)
    scene = scene or bpy.context.scene
    out = Path(take_path) if take_path else takes_io.new_take_path(takes_io.safe_name(video.stem))
    job = OfflineImport(capture_options(bpy.context, source=str(video), realtime=False, preview=False), out)
    if not wait:
        return job
    while True:
        state = job.poll()
        if state.finished:
            break
        if progress is not None and state.total and progress(state.done / state.total) is False:
            job.cancel()
            raise SessionError(f"tracking {video.name} was cancelled")
        time.sleep(0.05)
    if state.error:
        raise SessionError(f"{video.name}: {state.error}")
    if progress is not None:
        progress(1.0)
    return out


def bake(take: str | Path, *, mesh: bpy.types.Object | None = None, armature: bpy.types.Object | None = None,
         name: str | None = None, start_frame: float | None = None, start_at: str | None = None,
         takes: str | None = None, smoothing: str | bool | None = None,
         calibration: Calibration | str | None = None, reduce_tolerance: float | None = None,
         progress: Progress | None = None, scene: bpy.types.Scene | None = None, person: int = 1) -> BakeResult:
    """Bake a take file onto objects through their mapping tables: one action each.

    Neither mesh nor armature given: the scene's targets. name defaults to the take's;
    start_frame (or start_at: "FRAME", "CURRENT", "TIMECODE": where the take's start timecode
    falls), takes ("AUTO", "STRIPS": each take on its own NLA track, "ACTION": replace the
    active action), smoothing (a preset name: "off", "light", "medium", "strong"; or False),
    calibration (a Calibration or its JSON) and reduce_tolerance (0: every frame keyed) to
    the scene's bake settings. person: whose frames drive them in a take of several faces, by
    rank (1 the performer, 2 the next person seen...); a rank nobody has bakes a still face."""
    scene = scene or bpy.context.scene
    if mesh is None and armature is None:
        mesh, armature = scene.face_mocap.target_mesh, scene.face_mocap.target_armature
    if mesh is None and armature is None:
        raise BakeError("bake needs a mesh or an armature to write to")
    path = Path(take)
    if isinstance(calibration, str):
        calibration = Calibration.from_json(calibration)
    return bake_take(
        scene, path, mesh, armature, name or _take_name(path), progress=progress,
        start_frame=start_frame, start_at=start_at, takes=takes, smoothing=smoothing, calibration=calibration,
        reduce_tolerance=reduce_tolerance, person=person)


def add_media(take: str | Path, frame_range: tuple[float, float], *, name: str | None = None,
              sound: bool = True, reference: bool = False,
              scene: bpy.types.Scene | None = None) -> reference_media.MediaNotes:
    """The take's source video beside its bake (a BakeResult's frame_range): its sound as a
    Video Sequencer strip (replacing the take's own), and with reference=True its picture as a
    Reference image object. Takes not tracked from a video file get nothing; notes and
    warnings (a silent clip, a missing file) in words."""
    scene = scene or bpy.context.scene
    path = Path(take)
    return reference_media.after_bake(scene, path, name or _take_name(path), frame_range,
                                      sound=sound, reference=reference)


def retarget(take: str | Path, *, mesh: bpy.types.Object | None = None,
             armature: bpy.types.Object | None = None, **bake_options) -> BakeResult:
    """Bake a take onto another rig: a rig without a mapping table gets an auto-detected one."""
    if not any(obj.face_mocap.rows for obj in (mesh, armature) if obj is not None):
        auto_detect(mesh=mesh, armature=armature, scene=bake_options.get("scene"))
    return bake(take, mesh=mesh, armature=armature, **bake_options)


def auto_detect(*, mesh: bpy.types.Object | None = None, armature: bpy.types.Object | None = None,
                scene: bpy.types.Scene | None = None) -> tuple[int, list[str]]:
    """Build the objects' mapping tables from their shape-key and bone names; (rows, unmapped)."""
    if mesh is None and armature is None:
        raise MappingError("auto-detect needs a mesh or an armature")
    return presets.auto_detect(scene or bpy.context.scene, mesh, armature)


def load_preset(name: str, *, scene: bpy.types.Scene | None = None) -> int:
    """Fill the scene targets' tables from a shipped preset or "user:NAME"; the row count."""
    return presets.load_preset(scene or bpy.context.scene, name)


def save_preset(name: str, *, scene: bpy.types.Scene | None = None) -> Path:
    """Save the scene targets' tables as a user preset (in the user's config folder)."""
    return presets.save_preset(scene or bpy.context.scene, name)


def import_livelink_csv(csv_path: str | Path, *, progress: Progress | None = None,
                        scene: bpy.types.Scene | None = None) -> Path:
    """Import a Live Link Face CSV as a new take in the scene's takes list; the take's path."""
    item, _ = livelink_io.import_livelink(scene or bpy.context.scene, str(csv_path), progress=progress)
    return takes_io.resolve(item)


def export_livelink_csv(take: str | Path, csv_path: str | Path, *, scene: bpy.types.Scene | None = None) -> Path:
    """Write a take as a Live Link Face CSV (calibrated with the scene's calibration)."""
    livelink_io.export_livelink(scene or bpy.context.scene, Path(take), str(csv_path))
    return Path(csv_path)


def _take_name(path: Path) -> str:
    name = take_info(path).metadata.get("name")
    return str(name) if name else takes_io.take_stem(path)

