"""Where a bake starts in the scene: the Start Frame, the current frame, or the take's timecode.

At its timecode a take lands relative to the scene's origin timecode (*Start Frame Timecode*,
which falls on the Start Frame); when none is set, the first take placed sets it to the hour
its timecode falls in, so takes of a day's shoot land near the start, in the order and with
the gaps they were recorded with (capture/timecode.py has the maths).
"""

from __future__ import annotations

import bpy

from ..capture.timecode import Timecode, TimecodeError, frame_in_scene, scene_origin, take_start
from .bake import BakeError, scene_fps

MAX_FRAME = 1_048_574  # Blender's last frame (MAXFRAME)


def start_frame(scene: bpy.types.Scene, metadata: dict, take_name: str, mode: str | None = None) -> float:
    """The frame of the take's first key for the scene's *Start At* (or `mode`); BakeError when
    the take has no timecode to start at, or it would land beyond Blender's frames."""
    settings = scene.face_mocap
    mode = mode or settings.bake_start
    if mode == "CURRENT":
        return float(scene.frame_current)
    if mode != "TIMECODE":
        return float(settings.bake_start_frame)
    start = take_start(metadata)
    if start is None:
        raise BakeError(f"take '{take_name}' has no start timecode: start it at the Start Frame "
                        "or the current frame instead")
    code, rate = start
    fps = scene_fps(scene)
    origin = _origin(settings, code, fps)
    frame = frame_in_scene(code, rate, origin, settings.bake_start_frame, fps)
    if not -MAX_FRAME <= frame <= MAX_FRAME:
        raise BakeError(f"take '{take_name}' starts at {code}, frame {frame:,.0f} from the Start Frame "
                        f"Timecode {origin}: beyond Blender's frames (±{MAX_FRAME:,}); set the Start "
                        "Frame Timecode nearer the takes' timecode")
    return frame


def _origin(settings, code: Timecode, fps: float) -> Timecode:
    """The scene's origin timecode; set from the take's hour the first time (BakeError if unreadable)."""
    if not settings.timecode_origin.strip():
        settings.timecode_origin = str(scene_origin(code, fps))
    try:
        origin = Timecode.parse(settings.timecode_origin)
        origin.frame_count(fps)
    except TimecodeError as exc:
        raise BakeError(f"Start Frame Timecode: {exc}") from None
    return origin
