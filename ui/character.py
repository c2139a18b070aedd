"""The meshes of a character, so one mapping drives them all.

Avatars keep their ARKit shape keys on several meshes (head, teeth, eyes, beard). The
character's meshes are the target mesh and every mesh that belongs to the target armature
(parented to it, or deformed by it through an Armature modifier), is parented to the target
mesh or is in the chosen collection, and carries at least one ARKit shape key. The target mesh's shape-key rows are
shared with the others by ARKit name (mapping.autodetect.shared_shape_rows), so teeth open
with the jaw and editing one row changes them all. A mesh with rows of its own keeps those.
"""

from __future__ import annotations

import bpy

from ..mapping.autodetect import shared_shape_rows
from ..mapping.naming import arkit_name
from ..mapping.retarget import MappingTable


def shape_keys(obj: bpy.types.Object | None) -> list[str]:
    """The shape-key names of a mesh object (none for other objects)."""
    keys = getattr(getattr(obj, "data", None), "shape_keys", None) if obj is not None and obj.type == "MESH" else None
    return [block.name for block in keys.key_blocks] if keys is not None else []


def arkit_key_count(obj: bpy.types.Object) -> int:
    """How many of the mesh's shape keys stand for an ARKit shape."""
    return sum(1 for key in shape_keys(obj) if arkit_name(key))


def _belongs(obj: bpy.types.Object, roots: set[bpy.types.Object]) -> bool:
    parent = obj.parent
    while parent is not None:
        if parent in roots:
            return True
        parent = parent.parent
    return any(mod.type == "ARMATURE" and mod.object in roots for mod in obj.modifiers)


def character_meshes(mesh: bpy.types.Object | None, armature: bpy.types.Object | None,
                     collection: bpy.types.Collection | None = None) -> list[bpy.types.Object]:
    """The other meshes of the character with ARKit shape keys (not `mesh` itself), by name."""
    roots = {obj for obj in (mesh, armature) if obj is not None}
    members = set(collection.all_objects) if collection is not None else set()
    if not (roots or members):
        return []
    found = [obj for obj in bpy.data.objects
             if obj.type == "MESH" and obj not in roots and (obj in members or _belongs(obj, roots))
             and arkit_key_count(obj)]
    return sorted(found, key=lambda obj: obj.name)


def main_mesh(armature: bpy.types.Object) -> bpy.types.Object | None:
    """The armature's mesh with the most ARKit shape keys (the head), if it has any."""
    meshes = character_meshes(None, armature)
    return max(meshes, key=arkit_key_count, default=None)


def shared_table(table: MappingTable, mesh: bpy.types.Object | None, armature: bpy.types.Object | None,
                 collection: bpy.types.Collection | None = None) -> MappingTable:
    """The table plus the target mesh's shape-key rows for each other mesh of the character."""
    if mesh is None:
        return table
    others = {obj.name: shape_keys(obj) for obj in character_meshes(mesh, armature, collection)
              if not len(obj.face_mocap.rows)}
    extra = shared_shape_rows(table.rows, mesh.name, others)
    return MappingTable(table.rows + extra) if extra else table
