"""Import and export Live Link Face CSV files as takes (mapping/livelink.py does the format)."""

from __future__ import annotations

from pathlib import Path

import bpy

from ..capture.takes import read_take
from ..mapping import livelink
from . import scene_settings, takes_io


def import_livelink(scene: bpy.types.Scene, path: str, progress=None) -> tuple:
    """Stream a Live Link Face CSV into a new take file and list it; (item, what was skipped).

    The file is read a block of rows at a time (memory does not grow with its length), and
    the take appears only once it is complete. progress: as livelink.import_livelink_csv's."""
    name = takes_io.safe_name(Path(path).stem)
    result = livelink.import_livelink_csv(path, takes_io.new_take_path(name), progress=progress)
    item = takes_io.list_take(scene, result.path, name)
    return item, result.summary()


def export_livelink(scene: bpy.types.Scene, take_path: Path, out_path: str) -> str:
    """Write a take as a Live Link Face CSV (calibrated with the scene's calibration)."""
    take = read_take(take_path)
    livelink.export_take(take, out_path, face=scene_settings.canonical_face(),
                         calibration=scene_settings.scene_calibration(scene))
    return out_path
