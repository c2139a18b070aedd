"""The mapping rows on the character's objects <-> mapping.retarget.MappingTable.

Mapping rows live on the character's objects (Object.face_mocap.rows: shape-key rows on
the mesh, bone rows on the armature). Here they become one MappingTable for the mapping
pipeline, every row naming its object (the target's owner), and a table goes back to rows.
"""

from __future__ import annotations

import math

import bpy

from ..mapping.errors import RetargetError
from ..mapping.retarget import AXES, MappingRow, MappingTable, Target
from . import character

_UNBOUNDED = 1e30  # FloatProperty stores inf as FLT_MAX: anything beyond this means "no limit"


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
            kind = item.target_type.lower()  # properties.TARGET_TYPE_ITEMS
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
        item.target_type = row.target.kind.upper()
        if row.target.axis >= 0:
            item.axis = AXES[row.target.axis]
        item.factor, item.offset, item.min, item.max = row.factor, row.offset, row.min, row.max
        count += 1
    return count


def rows_signature(objects) -> tuple:
    """Everything about the objects' tables that changes the mapping (cheap to compare); the
    objects by identity, not name: renaming one changes nothing (its targets are bound to it)."""
    return tuple((obj.as_pointer(), tuple((r.enabled, r.source, r.target_type, r.target, r.axis, r.factor, r.offset,
                                   r.min, r.max) for r in obj.face_mocap.rows))
                 for obj in objects if obj is not None)
