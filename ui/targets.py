"""Rig targets: what a mapping row drives (mapping.retarget.Target) resolved to Blender data.

A Target names its object (`owner`) when the table is built from the objects' rows.
resolve() finds each object once and keeps a reference to it (an ID, not a name): live
apply and bake never look objects up by name again, and renaming the mesh or armature while
capturing keeps driving it. Shape keys, bones and custom properties are found on that object
by name when they are written (a ShapeKey or PoseBone reference would go stale when the key
or the armature is edited).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Mapping, TypeVar

import bpy

from ..mapping.retarget import Target

V = TypeVar("V")
LOCATION, ROTATION = "location", "rotation"


@dataclass(frozen=True)
class RigTarget:
    """A Target and the object it belongs to, found once."""

    target: Target
    obj: bpy.types.Object

    @property
    def kind(self) -> str:
        return self.target.kind

    @property
    def name(self) -> str:
        """The shape key, bone or custom property name."""
        return self.target.name

    @property
    def axis(self) -> int:
        return self.target.axis

    @property
    def channel(self) -> str:
        """LOCATION or ROTATION for bone targets, '' otherwise."""
        return {"bone_location": LOCATION, "bone_rotation": ROTATION}.get(self.kind, "")

    @property
    def bone_key(self) -> tuple[bpy.types.Object, str]:
        return self.obj, self.name


def resolve(targets: Iterable[Target]) -> tuple[dict[Target, RigTarget], list[Target]]:
    """Each target bound to its object, each object found once by name; and the targets whose
    object does not exist (or that name none)."""
    objects: dict[str, bpy.types.Object | None] = {}
    bound: dict[Target, RigTarget] = {}
    missing: list[Target] = []
    for target in targets:
        if target.owner not in objects:
            objects[target.owner] = bpy.data.objects.get(target.owner) if target.owner else None
        obj = objects[target.owner]
        if obj is None:
            missing.append(target)
        else:
            bound[target] = RigTarget(target, obj)
    return bound, missing


def with_owner(values: Mapping[Target, V], owner: str) -> dict[Target, V]:
    """The same values, with `owner` as the object of the targets that name none (a preset's table)."""
    return {target if target.owner else dataclasses.replace(target, owner=owner): value
            for target, value in values.items()}


def quoted(name: str) -> str:
    """A name as it appears inside ["..."] in a data path."""
    return '"' + bpy.utils.escape_identifier(name) + '"'


def object_name(obj: bpy.types.Object, fallback: str = "?") -> str:
    """The object's name now, or fallback when it was deleted."""
    try:
        return obj.name
    except ReferenceError:
        return fallback


def shape_key_block(obj: bpy.types.Object, name: str):
    """The ShapeKey of that name on a mesh object, or None."""
    keys = getattr(obj.data, "shape_keys", None)
    return keys.key_blocks.get(name) if keys is not None else None


def pose_bone(obj: bpy.types.Object, name: str) -> bpy.types.PoseBone | None:
    """The PoseBone of that name on an armature object, or None."""
    if obj.type != "ARMATURE" or obj.pose is None:
        return None
    return obj.pose.bones.get(name)

