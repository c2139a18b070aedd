"""Mapping tables made for a rig: auto-detected from its names, from a shipped preset, or from
the user's own presets (kept in the user config folder, never inside the add-on)."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..mapping import autodetect
from ..mapping.errors import RetargetError
from ..mapping.naming import describe_bone
from ..mapping.preset_files import list_user_presets
from ..mapping.retarget import MappingRow, MappingTable, Target
from . import character, mapping_tables, takes_io


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
    count = mapping_tables.table_to_rows(table, mesh, armature)
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


def load_preset(scene: bpy.types.Scene, name: str, mesh=_SCENE_TARGET, armature=_SCENE_TARGET) -> int:
    """Fill the objects' tables (default: the scene's targets) from a shipped preset or a user
    preset; the row count."""
    settings = scene.face_mocap
    mesh = settings.target_mesh if mesh is _SCENE_TARGET else mesh
    armature = settings.target_armature if armature is _SCENE_TARGET else armature
    if name.startswith("user:"):
        table = MappingTable.load(user_presets_dir() / f"{name[5:]}.json")
        table = MappingTable([MappingRow(r.source, Target(r.target.kind, r.target.name, r.target.axis),
                                         r.factor, r.offset, r.min, r.max) for r in table.rows])
    else:
        table, _ = autodetect.preset_table(name, **_rig_names(mesh, armature))
    count = mapping_tables.table_to_rows(table, mesh, armature)
    for obj in (mesh, armature):
        if obj is not None:
            obj.face_mocap.preset = name
    return count


def save_preset(scene: bpy.types.Scene, name: str) -> Path:
    """Save the targets' tables (exact rows) as a user preset."""
    table = mapping_tables.rows_to_table(mapping_tables.scene_targets(scene))
    if not len(table):
        raise RetargetError("the targets have no mapping rows to save")
    path = user_presets_dir() / f"{takes_io.safe_name(name)}.json"
    table.save(path)
    return path
