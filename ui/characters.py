"""More characters, each following its own person in view (Scene.face_mocap.characters).

The scene's targets are character 1, driven by the performer (capture/face_choice.py). Each
character in the list is a mesh and/or an armature with its own mapping rows (on its objects,
as for the targets), its own calibration, and the person it follows by rank: 1 the performer,
2 the next person seen, and so on (capture/take_people.py). Live, each is driven from its
person's face in the newest frame; Bake Take bakes each from its person's frames in the take.
"""

from __future__ import annotations

import logging
from pathlib import Path

import bpy

from ..capture.face_choice import Tracked
from ..capture.protocol import FaceFrame
from ..mapping.calibration import Calibration
from ..mapping.errors import MappingError
from ..mapping.pipeline import LivePipeline
from . import mapping_tables, scene_settings
from .bake_run import BakeRun
from .live_rig import LiveRig

log = logging.getLogger(__name__)


def characters(scene: bpy.types.Scene) -> list:
    """The list's characters that have a mesh or an armature."""
    return [item for item in scene.face_mocap.characters if item.mesh is not None or item.armature is not None]


def person_frame(tracked: Tracked, ranked: list[int], rank: int):
    """The frame with only the face of the person at `rank` (ranked: person ids by rank), or none."""
    face = tracked.face_of(ranked[rank - 1]) if 1 <= rank <= len(ranked) else None
    frame = tracked.frame
    return FaceFrame(frame.index, frame.timestamp_us, frame.width, frame.height, [face] if face else [])


def item_calibration(item) -> Calibration | None:
    return Calibration.from_json(item.calibration) if item.calibration else None


class CharacterRig(LiveRig):
    """One character of the list driven live: its own objects, mapping, calibration and person."""

    def __init__(self, pipeline: LivePipeline, scene: bpy.types.Scene, item) -> None:
        self.name, self.person = item.name, item.person
        super().__init__(pipeline, scene)

    @classmethod
    def of(cls, scene: bpy.types.Scene, item) -> "CharacterRig":
        table = mapping_tables.character_table(item.mesh, item.armature)
        pipeline = LivePipeline(scene_settings.canonical_face(), table, item_calibration(item),
                                scene_settings.smoothing_settings(scene))
        return cls(pipeline, scene, item)

    def _item(self, scene: bpy.types.Scene):
        item = scene.face_mocap.characters.get(self.name)
        if item is None:
            raise ReferenceError(f"character '{self.name}' was removed")
        return item

    def objects(self, scene: bpy.types.Scene) -> list:
        item = self._item(scene)
        return [obj for obj in (item.mesh, item.armature) if obj is not None]

    def table(self, scene: bpy.types.Scene):
        item = self._item(scene)
        return mapping_tables.character_table(item.mesh, item.armature)

    def calibration_text(self, scene: bpy.types.Scene) -> str:
        return self._item(scene).calibration

    def store_calibration(self, scene: bpy.types.Scene, text: str) -> None:
        self._calibration = self._item(scene).calibration = text

    def sync(self, scene: bpy.types.Scene) -> None:
        self.person = self._item(scene).person  # changed while capturing: follow the other person at once
        super().sync(scene)

    def apply_people(self, people: tuple[Tracked, list[int]]) -> None:
        """Drive the character from its person's face in the newest frame (held still without it)."""
        self.apply(person_frame(*people, self.person))


def live_rigs(scene: bpy.types.Scene) -> list[CharacterRig]:
    """A live rig for every character of the list that has mapping rows."""
    return [CharacterRig.of(scene, item) for item in characters(scene)
            if len(mapping_tables.character_table(item.mesh, item.armature))]


def character_runs(scene: bpy.types.Scene, path: Path, name: str, start_frame: int | None = None) -> list[BakeRun]:
    """A bake of the take for every character of the list that has mapping rows, each from its
    own person's frames and with its own calibration (run by Bake Take after the targets')."""
    return [BakeRun(scene, path, name, item.mesh, item.armature, start_frame=start_frame, person=item.person,
                    calibration=item_calibration(item) or Calibration(), label=item.name)
            for item in characters(scene) if len(mapping_tables.character_table(item.mesh, item.armature))]


class _Live:
    """The characters driven by the running capture (module state, as ui/live.py's rig)."""

    rigs: list[CharacterRig] = []


def start_live(scene: bpy.types.Scene) -> None:
    """Build the characters' live rigs as capture starts (MappingError: reported by the operator)."""
    _Live.rigs = live_rigs(scene)


def drive_live(scene: bpy.types.Scene, people: tuple[Tracked, list[int]] | None) -> None:
    """Each character from its person's face in the newest frame; a character whose objects
    or list entry were deleted is dropped (capture carries on)."""
    if people is None:
        return
    for rig in list(_Live.rigs):
        try:
            rig.sync(scene)
            rig.apply_people(people)
        except ReferenceError:
            _Live.rigs.remove(rig)


def restore_live(stop: bool) -> None:
    """Put every character back as it was before the capture; `stop`: and drive them no more."""
    for rig in _Live.rigs:
        try:
            rig.restore()
        except ReferenceError:
            pass  # deleted while capturing
        except Exception:  # e.g. a linked rig: the others still go back; the log says what could not
            log.exception("could not restore character '%s' after capturing", rig.name)
    if stop:
        _Live.rigs = []


def calibrate_live(scene: bpy.types.Scene) -> int:
    """Calibrate Neutral for each character from its own person's recent faces; how many were."""
    done = 0
    for rig in _Live.rigs:
        try:
            rig.calibrate(scene)
            done += 1
        except (MappingError, ReferenceError):
            pass  # its person was not in view: it keeps its calibration
    return done
