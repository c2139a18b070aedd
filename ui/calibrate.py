"""Calibrate Neutral and Range of Motion, from the live stream or from frames of a take, and
one channel's calibration edited by hand; the result is stored in the scene (saved with it)."""

from __future__ import annotations

import bpy

from ..capture.takes import has_geometry, read_take, take_info
from ..link.errors import SessionError
from ..mapping.calibration import Calibration, default_top
from ..mapping.channels import channel_kind
from ..mapping.errors import MappingError
from ..mapping.pipeline import neutral_from_take, range_from_take
from . import characters, scene_settings, takes_io
from .i18n import rpt_
from .live_rig import LiveRig


def calibrate_live(scene: bpy.types.Scene, live_rig: LiveRig | None) -> str:
    """Calibrate Neutral from the live stream."""
    if live_rig is None:
        raise SessionError("Start Capture first")
    live_rig.calibrate(scene)
    more = characters.calibrate_live(scene)  # each character from its own person
    if more:
        return rpt_("Neutral calibrated from the live face and {count} more character(s)").format(count=more)
    return rpt_("Neutral calibrated from the live face")


def _active_take_frames(scene: bpy.types.Scene, first: int, last: int):
    """(list item, frames first..last of the active take, read alone)."""
    item = takes_io.active_take(scene)
    if item is None:
        raise SessionError("Select a take to calibrate from")
    path = takes_io.resolve(item)
    count = take_info(path).frame_count
    if not 0 <= first <= last < count:
        raise MappingError(f"take '{item.name}' has frames 0 to {count - 1}, not {first}"
                           + (f" to {last}" if last != first else ""))
    take = read_take(path, first, last + 1)  # those frames' chunks, not the whole take
    if not take.frame_count:
        raise MappingError(f"frame {first} of take '{item.name}' is damaged: {take.problem}")
    return item, take


def calibrate_range_live(scene: bpy.types.Scene, live_rig: LiveRig | None) -> str:
    """Range of Motion from the live stream: the first press starts measuring, the second finishes."""
    if live_rig is None:
        raise SessionError("Start Capture first")
    return live_rig.toggle_range(scene)


def calibrate_range_from_take(scene: bpy.types.Scene, first: int, last: int) -> str:
    """Range of Motion from frames first..last of the active take (the performer's extremes)."""
    item, take = _active_take_frames(scene, first, last)
    face = scene_settings.canonical_face() if has_geometry(take.metadata) else None
    cal, changed = range_from_take(take, face, scene_settings.scene_calibration(scene))
    scene.face_mocap.calibration = cal.to_json()
    return rpt_("Range of motion set for {count} channel(s) from frames {first}-{last} of take '{take}'").format(
        count=len(changed), first=first, last=last, take=item.name)


def active_take_frame_count(scene: bpy.types.Scene) -> int:
    """Frames in the active take (0 when none is selected)."""
    item = takes_io.active_take(scene)
    return take_info(takes_io.resolve(item)).frame_count if item is not None else 0


def channel_calibration(scene: bpy.types.Scene, name: str) -> tuple[float, float, float, float]:
    """(neutral, top, gain, curve) of one channel as the scene's calibration applies it."""
    c = (scene_settings.scene_calibration(scene) or Calibration()).channel(name)  # CalibrationError: unknown channel
    low, high = c.range if c.range is not None else (c.offset, default_top(name))
    return low, high, c.gain, c.curve


def set_channel_calibration(scene: bpy.types.Scene, name: str, low: float, high: float, gain: float,
                            curve: float) -> None:
    """Store one channel's calibration edited by hand (shapes: range low..high; angles: offset)."""
    cal = scene_settings.scene_calibration(scene) or Calibration()
    if channel_kind(name) == "shape":
        cal.set(name, offset=low, range=(low, high), gain=gain, curve=curve)
    else:
        cal.set(name, offset=low, range=None, gain=gain, curve=curve)
    scene.face_mocap.calibration = cal.to_json()


def calibrate_from_take(scene: bpy.types.Scene, frame: int) -> str:
    """Calibrate Neutral from one frame of the active take."""
    item, take = _active_take_frames(scene, frame, frame)
    if not take.face_found[0]:
        raise MappingError(f"no face in frame {frame} of take '{item.name}': pick a frame with a neutral face")
    # a take without landmarks (a Live Link CSV) calibrates from its channels: head angles too
    face = scene_settings.canonical_face() if has_geometry(take.metadata) else None
    cal = neutral_from_take(take, face, scene_settings.scene_calibration(scene))
    scene.face_mocap.calibration = cal.to_json()
    return rpt_("Neutral calibrated from frame {frame} of take '{take}'").format(frame=frame, take=item.name)
