"""Rig targets: what a mapping table drives, resolved to Blender data.

A target keys a dict of values. It is either mapping.retarget.Target (kind, name, axis,
owner: the object's name, '' for "the object the table belongs to": see bind()), or a
plain tuple:
- ("shape_key", object_name, key_name): a shape key value on a mesh object.
- ("bone", armature_name, bone_name, "rotation_euler" | "location", axis): one axis
  (0/1/2 or "X"/"Y"/"Z") of a pose bone. A bone's three rotation axes are one rotation
  vector (axis * angle, radians) in its rest frame, written in whatever rotation mode the
  bone uses (the name "rotation_euler" is kept for the tuples already in use).
- ("prop", object_name, prop_name): a custom property on an object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Mapping, TypeVar

import bpy

from ..mapping.retarget import Target as MappingTarget

Target = tuple  # see the module docstring
SHAPE_KEY, BONE, PROP = "shape_key", "bone", "prop"
ROTATION, LOCATION = "rotation_euler", "location"
_AXES = {"X": 0, "Y": 1, "Z": 2, 0: 0, 1: 1, 2: 2}
_MAPPING_KINDS = {"shape_key": (SHAPE_KEY, ""), "bone_rotation": (BONE, ROTATION),
                  "bone_location": (BONE, LOCATION), "property": (PROP, "")}
V = TypeVar("V")


class TargetError(ValueError):
    """A target tuple that does not follow the shape documented in ui/targets.py."""


@dataclass(frozen=True)
class ParsedTarget:
    """A target tuple, checked and with its parts named."""

    kind: str  # SHAPE_KEY, BONE or PROP
    object_name: str
    name: str  # shape key, bone or property name
    channel: str = ""  # ROTATION or LOCATION for bones
    axis: int = 0

    @property
    def bone_key(self) -> tuple[str, str]:
        return self.object_name, self.name


def parse_target(target: Hashable, owner: str = "") -> ParsedTarget:
    """Check a target and name its parts (owner: object for targets that name none)."""
    if isinstance(target, ParsedTarget):
        return target
    if isinstance(target, MappingTarget):
        kind, channel = _MAPPING_KINDS[target.kind]
        if not (target.owner or owner):
            raise TargetError(f"{target.label}: which object? Pick the target mesh or armature")
        return ParsedTarget(kind, target.owner or owner, target.name, channel, max(target.axis, 0))
    if not isinstance(target, tuple) or not target:
        raise TargetError(f"a target must be a non-empty tuple, got {target!r}")
    kind = target[0]
    if kind in (SHAPE_KEY, PROP) and len(target) == 3:
        return ParsedTarget(kind, str(target[1]), str(target[2]))
    if kind == BONE and len(target) == 5 and target[3] in (ROTATION, LOCATION):
        axis = target[4].upper() if isinstance(target[4], str) else target[4]
        if axis in _AXES:
            return ParsedTarget(kind, str(target[1]), str(target[2]), target[3], _AXES[axis])
    raise TargetError(f"unknown target {target!r}: expected ('shape_key', object, key), "
                      "('bone', armature, bone, 'rotation_euler'|'location', axis) or ('prop', object, name)")


def bind(values: Mapping[Hashable, V], owner: str) -> dict[ParsedTarget, V]:
    """The same values keyed by checked targets; those naming no object get `owner`."""
    return {parse_target(target, owner): value for target, value in values.items()}


def quoted(name: str) -> str:
    """A name as it appears inside ["..."] in a data path."""
    return '"' + bpy.utils.escape_identifier(name) + '"'


def find_object(name: str) -> bpy.types.Object | None:
    """The object of that name in the current file, if any."""
    return bpy.data.objects.get(name)


def shape_key_block(target: ParsedTarget) -> Any | None:
    """The ShapeKey of a shape-key target, or None if the mesh or the key is missing."""
    obj = find_object(target.object_name)
    keys = getattr(getattr(obj, "data", None), "shape_keys", None)
    return keys.key_blocks.get(target.name) if keys is not None else None


def pose_bone(target: ParsedTarget) -> bpy.types.PoseBone | None:
    """The PoseBone of a bone target, or None if the armature or the bone is missing."""
    obj = find_object(target.object_name)
    if obj is None or obj.type != "ARMATURE" or obj.pose is None:
        return None
    return obj.pose.bones.get(target.name)
