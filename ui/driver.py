"""Glue between Blender data and the mapping layer: tables on objects, live pipeline, bake, presets.

The operators call these functions; they turn Object.face_mocap rows into mapping tables,
run mapping/ (pure numpy) and hand target values to rig_apply/bake (the bake engineer's).
"""

from __future__ import annotations

import bpy

from ..mapping.errors import MappingError


def _not_ready(what: str) -> MappingError:
    return MappingError(f"{what} is not available in this build of Face Mocap")


class LiveRig:
    """The rig being driven live: its mapping, the live pipeline and a snapshot to restore."""

    def __init__(self) -> None:
        self.snapshot = None

    @classmethod
    def from_scene(cls, scene: bpy.types.Scene) -> "LiveRig":
        return cls()

    def apply(self, frame) -> None:
        """Map one frame and write it to the rig."""

    def restore(self) -> None:
        """Put the rig back as it was before the capture."""


def calibrate_live(scene, session) -> str:
    raise _not_ready("Calibration")


def calibrate_from_take(scene, frame: int) -> str:
    raise _not_ready("Calibration")


def calibration_changed(scene) -> None:
    pass


def bake_take(scene, path, mesh, armature, name, progress=None):
    raise _not_ready("Baking")


def auto_detect(scene):
    raise _not_ready("Auto-detect")


def preset_names() -> list[tuple[str, str]]:
    return []


def load_preset(scene, name: str) -> int:
    raise _not_ready("Presets")


def save_preset(scene, name: str):
    raise _not_ready("Presets")


def import_livelink(scene, path):
    raise _not_ready("Live Link import")


def export_livelink(scene, take_path, out_path):
    raise _not_ready("Live Link export")
