"""Glue between Blender data and the mapping layer: tables on objects, live pipeline, bake, presets.

Mapping rows live on the character's objects (Object.face_mocap.rows: shape-key rows on
the mesh, bone rows on the armature). Here they become a mapping.retarget.MappingTable;
every row names its object, so its targets resolve through ui/targets.py for rig_apply and bake.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np

from ..capture.errors import ModelError
from ..capture.takes import forward_only, has_geometry, read_take, take_info
from ..mapping import autodetect, livelink
from ..mapping.calibration import Calibration, default_top
from ..mapping.canonical import load_canonical_face
from ..mapping.channels import channel_kind
from ..mapping.errors import MappingError, RetargetError
from ..mapping.naming import describe_bone
from ..mapping.pipeline import LivePipeline, map_take, neutral_from_take, range_from_take
from ..mapping.preset_files import list_user_presets
from ..mapping.retarget import AXES, MappingRow, MappingTable, Target
from ..mapping.smoothing import OneEuro, SmoothingSettings, preset
from . import bake, character, preferences, rig_apply, takes_io
from .child import CaptureError, with_hint
from .targets import parse_target

_UNBOUNDED = 1e30  # FloatProperty stores inf as FLT_MAX: anything beyond this means "no limit"
_KIND_TO_TYPE = {"shape_key": "SHAPE_KEY", "bone_rotation": "BONE_ROTATION",
                 "bone_location": "BONE_LOCATION", "property": "PROPERTY"}
_TYPE_TO_KIND = {v: k for k, v in _KIND_TO_TYPE.items()}


# --- the model and the canonical face -------------------------------------------------------

def canonical_face(context: bpy.types.Context | None = None):
    """The canonical face read from the model the capture process uses (cached by path)."""
    try:
        path = preferences.model_file(context)
    except ModelError as exc:
        raise CaptureError(with_hint(str(exc), "model", "")) from None
    return load_canonical_face(path)


# --- tables on objects ----------------------------------------------------------------------

def _bound(value: float) -> float:
    return value if abs(value) < _UNBOUNDED else math.copysign(math.inf, value)


def scene_targets(scene: bpy.types.Scene) -> list[bpy.types.Object]:
    """The scene's target mesh and armature, those that are set."""
    settings = scene.face_mocap
    return [obj for obj in (settings.target_mesh, settings.target_armature) if obj is not None]


def rows_to_table(objects) -> MappingTable:
    """The enabled rows of these objects' tables as one MappingTable (owner = object name)."""
    rows = []
    for obj in objects:
        if obj is None:
            continue
        for item in obj.face_mocap.rows:
            if not (item.enabled and item.source and item.target):
                continue
            kind = _TYPE_TO_KIND[item.target_type]
            axis = AXES.index(item.axis) if kind.startswith("bone_") else -1
            try:
                rows.append(MappingRow(item.source, Target(kind, item.target, axis, obj.name), item.factor,
                                       item.offset, _bound(item.min), _bound(item.max)))
            except RetargetError as exc:
                raise RetargetError(f"{obj.name}: {exc}") from None
    table = MappingTable(rows)
    table.check()
    return table


def character_table(mesh, armature, collection=None) -> MappingTable:
    """The mapping of the whole character: the targets' rows, then for each other mesh with
    ARKit keys its own rows, or else the target mesh's shape-key rows (ui/character.py)."""
    others = [obj for obj in character.character_meshes(mesh, armature, collection) if len(obj.face_mocap.rows)]
    return character.shared_table(rows_to_table([mesh, armature, *others]), mesh, armature, collection)


def scene_character_table(scene: bpy.types.Scene) -> MappingTable:
    """character_table() of the scene's targets and their collection of more meshes."""
    settings = scene.face_mocap
    return character_table(settings.target_mesh, settings.target_armature, settings.target_collection)


def table_to_rows(table: MappingTable, mesh, armature) -> int:
    """Replace the objects' rows: shape keys/properties to the mesh (if any), bones to the armature."""
    for obj in (mesh, armature):
        if obj is not None:
            obj.face_mocap.rows.clear()
            obj.face_mocap.active_row = 0
    count = 0
    for row in table.rows:
        obj = armature if row.target.kind.startswith("bone_") else (mesh or armature)
        if obj is None:
            continue
        item = obj.face_mocap.rows.add()
        item.source, item.target = row.source, row.target.name
        item.target_type = _KIND_TO_TYPE[row.target.kind]
        if row.target.axis >= 0:
            item.axis = AXES[row.target.axis]
        item.factor, item.offset, item.min, item.max = row.factor, row.offset, row.min, row.max
        count += 1
    return count


# --- scene settings -> mapping settings -----------------------------------------------------

def smoothing_settings(scene: bpy.types.Scene) -> SmoothingSettings:
    """The scene's smoothing preset, or its custom One Euro parameters per channel kind."""
    settings = scene.face_mocap
    if settings.smoothing != "custom":
        return preset(settings.smoothing)
    result = preset("medium")
    for kind in ("shape", "rotation", "location"):
        one_euro = OneEuro(getattr(settings, f"{kind}_min_cutoff"), getattr(settings, f"{kind}_beta"),
                           settings.d_cutoff)
        result = result.with_kind(kind, one_euro, result.offline_hz.get(kind))
    return result


def scene_calibration(scene: bpy.types.Scene) -> Calibration | None:
    """The scene's calibration, or None when there is none."""
    text = scene.face_mocap.calibration
    return Calibration.from_json(text) if text else None


def _smoothing_key(scene: bpy.types.Scene) -> tuple:
    s = scene.face_mocap
    return (s.smoothing, s.shape_min_cutoff, s.shape_beta, s.rotation_min_cutoff, s.rotation_beta,
            s.location_min_cutoff, s.location_beta, s.d_cutoff)


# --- live ---------------------------------------------------------------------------------

def _rows_signature(objects) -> tuple:
    """Everything about the objects' tables that changes the mapping (cheap to compare)."""
    return tuple((obj.name, tuple((r.enabled, r.source, r.target_type, r.target, r.axis, r.factor, r.offset,
                                   r.min, r.max) for r in obj.face_mocap.rows))
                 for obj in objects if obj is not None)


class LiveRig:
    """The rig driven live: the mapping pipeline, bound targets and a snapshot to restore."""

    SYNC_EVERY = 15  # ticks between checks for edited mapping rows (a quarter second)

    def __init__(self, pipeline: LivePipeline, scene: bpy.types.Scene) -> None:
        self.pipeline = pipeline
        self._bind_targets(scene)
        self._smoothing = _smoothing_key(scene)
        self._calibration = scene.face_mocap.calibration
        self._ticks = 0
        self.last_result = None

    def _bind_targets(self, scene: bpy.types.Scene) -> None:
        self._rows = _rows_signature(scene_targets(scene))
        self.bound = {target: parse_target(target) for target in self.pipeline.table.targets}
        self.snapshot = rig_apply.snapshot_rig(self.bound.values())

    @classmethod
    def from_scene(cls, scene: bpy.types.Scene) -> "LiveRig":
        """Build from the scene's targets, their tables, calibration and smoothing."""
        table = scene_character_table(scene)
        pipeline = LivePipeline(canonical_face(), table, scene_calibration(scene), smoothing_settings(scene))
        return cls(pipeline, scene)

    def sync(self, scene: bpy.types.Scene) -> None:
        """Follow changes made while capturing: smoothing, calibration, targets and mapping rows."""
        key = _smoothing_key(scene)
        if key != self._smoothing:
            self._smoothing = key
            self.pipeline.set_smoothing(smoothing_settings(scene))
        if scene.face_mocap.calibration != self._calibration:
            self._calibration = scene.face_mocap.calibration
            self.pipeline.set_calibration(scene_calibration(scene) or Calibration())
        self._ticks += 1
        if self._ticks % self.SYNC_EVERY:
            return
        objects = scene_targets(scene)
        if _rows_signature(objects) != self._rows:
            # RetargetError: shown in the panel, old table kept
            table = scene_character_table(scene)
            self.restore()  # what the old table drove goes back before the new one drives
            self.pipeline.table = table
            self._bind_targets(scene)

    def apply(self, frame) -> None:
        """Map one frame and write it to the rig (NaN = no face: targets keep their value)."""
        result = self.pipeline.process(frame)
        self.last_result = result
        if result.face_found:
            rig_apply.apply_frame({self.bound[t]: v for t, v in zip(result.targets, result.values.tolist())})

    def restore(self) -> None:
        """Put the rig back as it was before the capture."""
        rig_apply.restore_rig(self.snapshot)

    def calibrate(self, scene: bpy.types.Scene, seconds: float = 0.5) -> None:
        """Neutral from the last half second of faces; stored in the scene (saved with the file)."""
        cal = self.pipeline.calibrate_recent(seconds)
        self._calibration = scene.face_mocap.calibration = cal.to_json()

    def toggle_range(self, scene: bpy.types.Scene) -> str:
        """Start measuring the range of motion, or finish and store it in the scene."""
        if not self.pipeline.measuring_range:
            self.pipeline.start_range()
            return ("Measuring the range of motion: make your extremes (eyes shut, jaw wide open, big smile, "
                    "brows up...), then press Finish Range")
        cal, changed = self.pipeline.finish_range()
        self._calibration = scene.face_mocap.calibration = cal.to_json()
        return f"Range of motion set for {len(changed)} channel(s)"


def calibrate_live(scene: bpy.types.Scene, live_rig: LiveRig | None) -> str:
    """Calibrate Neutral from the live stream."""
    if live_rig is None:
        raise CaptureError("Start Capture first")
    live_rig.calibrate(scene)
    return "Neutral calibrated from the live face"


def _active_take_frames(scene: bpy.types.Scene, first: int, last: int):
    """(list item, frames first..last of the active take, read alone)."""
    item = takes_io.active_take(scene)
    if item is None:
        raise CaptureError("Select a take to calibrate from")
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
        raise CaptureError("Start Capture first")
    return live_rig.toggle_range(scene)


def calibrate_range_from_take(scene: bpy.types.Scene, first: int, last: int) -> str:
    """Range of Motion from frames first..last of the active take (the performer's extremes)."""
    item, take = _active_take_frames(scene, first, last)
    face = canonical_face() if has_geometry(take.metadata) else None
    cal, changed = range_from_take(take, face, scene_calibration(scene))
    scene.face_mocap.calibration = cal.to_json()
    return f"Range of motion set for {len(changed)} channel(s) from frames {first}-{last} of take '{item.name}'"


def active_take_frame_count(scene: bpy.types.Scene) -> int:
    """Frames in the active take (0 when none is selected)."""
    item = takes_io.active_take(scene)
    return take_info(takes_io.resolve(item)).frame_count if item is not None else 0


def channel_calibration(scene: bpy.types.Scene, name: str) -> tuple[float, float, float, float]:
    """(neutral, top, gain, curve) of one channel as the scene's calibration applies it."""
    c = (scene_calibration(scene) or Calibration()).channel(name)  # CalibrationError: unknown channel
    low, high = c.range if c.range is not None else (c.offset, default_top(name))
    return low, high, c.gain, c.curve


def set_channel_calibration(scene: bpy.types.Scene, name: str, low: float, high: float, gain: float,
                            curve: float) -> None:
    """Store one channel's calibration edited by hand (shapes: range low..high; angles: offset)."""
    cal = scene_calibration(scene) or Calibration()
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
    cal = neutral_from_take(take, canonical_face() if has_geometry(take.metadata) else None, scene_calibration(scene))
    scene.face_mocap.calibration = cal.to_json()
    return f"Neutral calibrated from frame {frame} of take '{item.name}'"


# --- bake -----------------------------------------------------------------------------------

def bake_take(scene: bpy.types.Scene, path: Path, mesh, armature, name: str, progress=None, *,
              start_frame: int | None = None, smoothing: str | bool | None = None,
              calibration: Calibration | None = None, reduce_tolerance: float | None = None) -> bake.BakeResult:
    """Map a take file through the objects' tables and bake it to actions on them.

    Options left as None come from the scene's bake settings (the Bake panel); smoothing is a
    preset name ("off", "light", ...) or False."""
    settings = scene.face_mocap
    # the collection of more meshes belongs to the scene's character, not to a retarget rig
    own = (mesh, armature) == (settings.target_mesh, settings.target_armature)
    table = character_table(mesh, armature, settings.target_collection if own else None)
    if not len(table):
        names = " / ".join(obj.name for obj in (mesh, armature) if obj is not None)
        raise RetargetError(f"{names} has no mapping rows: press Auto-detect or load a preset")
    take, dropped = forward_only(read_take(path))  # takes recorded before the writer dropped such frames
    if take.frame_count < 2:
        raise bake.BakeError(f"take '{name}' has {take.frame_count} frame(s): record a longer take")
    if smoothing is None:
        smoothing = smoothing_settings(scene) if settings.bake_smoothing else "off"
    elif smoothing is False:
        smoothing = "off"
    if reduce_tolerance is None:
        reduce_tolerance = settings.bake_tolerance if settings.bake_reduce else 0.0
    values = map_take(take, table, calibration or scene_calibration(scene), smoothing, face=canonical_face(),
                      zero_phase_smoothing=True)
    bake_settings = bake.BakeSettings(fps=bake.scene_fps(scene), name=name, reduce_tolerance=reduce_tolerance,
                                      start_frame=settings.bake_start_frame if start_frame is None else start_frame)
    result = bake.bake_values(values, take.timestamps_us / 1e6, bake_settings, progress)
    if dropped:
        result.skipped.append(f"{dropped} frame(s) whose timestamps went backwards")
    return result


# --- auto-detect and presets -------------------------------------------------------------------

def _rig_names(mesh, armature) -> dict:
    shape_keys = []
    if mesh is not None and mesh.data.shape_keys is not None:
        shape_keys = [block.name for block in mesh.data.shape_keys.key_blocks]
    bones, rest = [], {}
    if armature is not None:
        bones = [bone.name for bone in armature.data.bones]
        rest = {bone.name: np.array(bone.matrix_local.to_3x3()) for bone in armature.data.bones}
    return {"shape_keys": shape_keys, "bones": bones, "bone_rest": rest}


_SCENE_TARGET = object()  # default: the scene's target mesh / armature


def auto_detect(scene: bpy.types.Scene, mesh=_SCENE_TARGET, armature=_SCENE_TARGET) -> tuple[int, list[str]]:
    """Fill the objects' tables (default: the scene's targets) from their names;
    (rows made, what could not be mapped)."""
    settings = scene.face_mocap
    armature = settings.target_armature if armature is _SCENE_TARGET else armature
    if mesh is _SCENE_TARGET:
        mesh = settings.target_mesh
        if mesh is None and armature is not None:  # the armature's head mesh, found for the user
            mesh = settings.target_mesh = character.main_mesh(armature)
    names = _rig_names(mesh, armature)
    table, report = autodetect.auto_detect(**names, mesh=mesh.name if mesh else "",
                                           armature=armature.name if armature else "")
    count = table_to_rows(table, mesh, armature)
    for obj in (mesh, armature):
        if obj is not None:
            obj.face_mocap.preset = "auto-detected"
    # the user's names and plain words ("a jaw bone"), never the preset's roles ("@jaw")
    unmapped = list(report.unmapped_shape_keys) + [describe_bone(b) for b in report.missing_bones if armature]
    return count, unmapped


def user_presets_dir() -> Path:
    """Where the user's own mapping presets are kept (never inside the add-on)."""
    return takes_io.user_data_dir("presets")


def preset_names() -> list[tuple[str, str]]:
    """(name, description) of the shipped presets, then the user's."""
    names = [(name, "Shipped with Face Mocap") for name in autodetect.preset_names()]
    paths, _ = list_user_presets(user_presets_dir())
    names += [(f"user:{path.stem}", f"Your preset ({path})") for path in paths]
    return names


def skipped_presets() -> list[str]:
    """Why user preset files were left out of the list (damaged, not a mapping table, ...)."""
    return list_user_presets(user_presets_dir())[1]


def load_preset(scene: bpy.types.Scene, name: str) -> int:
    """Fill the targets' tables from a shipped preset or a user preset; the row count."""
    settings = scene.face_mocap
    mesh, armature = settings.target_mesh, settings.target_armature
    if name.startswith("user:"):
        table = MappingTable.load(user_presets_dir() / f"{name[5:]}.json")
        table = MappingTable([MappingRow(r.source, Target(r.target.kind, r.target.name, r.target.axis),
                                         r.factor, r.offset, r.min, r.max) for r in table.rows])
    else:
        table, _ = autodetect.preset_table(name, **_rig_names(mesh, armature))
    count = table_to_rows(table, mesh, armature)
    for obj in (mesh, armature):
        if obj is not None:
            obj.face_mocap.preset = name
    return count


def save_preset(scene: bpy.types.Scene, name: str) -> Path:
    """Save the targets' tables (exact rows) as a user preset."""
    table = rows_to_table(scene_targets(scene))
    if not len(table):
        raise RetargetError("the targets have no mapping rows to save")
    path = user_presets_dir() / f"{takes_io.safe_name(name)}.json"
    table.save(path)
    return path


# --- Live Link CSV ------------------------------------------------------------------------------

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
    livelink.export_take(take, out_path, face=canonical_face(), calibration=scene_calibration(scene))
    return out_path

