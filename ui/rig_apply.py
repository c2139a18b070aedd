"""Live preview on the rig: apply one frame of mapped values, and snapshot/restore the rig.

Preview writes shape key values, pose-bone rotations/locations and custom properties;
the snapshot records exactly those, so Stop Capture (and a bake) leave the rig as it was.
Only data is written: no mode switches, no operators, so it is safe inside undo steps.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import bpy
import numpy as np

from ..mapping import rotations
from .targets import (BONE, LOCATION, SHAPE_KEY, ParsedTarget, Target, find_object, parse_target,
                      pose_bone, shape_key_block)

_MISSING = object()  # a custom property that did not exist before the preview


@dataclass
class BoneState:
    """Everything preview may change on one pose bone."""

    rotation_mode: str
    rotation_euler: tuple[float, float, float]
    rotation_quaternion: tuple[float, float, float, float]
    rotation_axis_angle: tuple[float, float, float, float]
    location: tuple[float, float, float]

    @classmethod
    def read(cls, bone: bpy.types.PoseBone) -> "BoneState":
        return cls(bone.rotation_mode, tuple(bone.rotation_euler), tuple(bone.rotation_quaternion),
                   tuple(bone.rotation_axis_angle), tuple(bone.location))

    def write(self, bone: bpy.types.PoseBone) -> None:
        bone.rotation_mode = self.rotation_mode
        bone.rotation_euler = self.rotation_euler
        bone.rotation_quaternion = self.rotation_quaternion
        bone.rotation_axis_angle = self.rotation_axis_angle
        bone.location = self.location

    def current(self) -> tuple[float, ...]:
        """The value of the rotation property its mode uses (to keep new values continuous)."""
        if self.rotation_mode == "QUATERNION":
            return self.rotation_quaternion
        return self.rotation_axis_angle if self.rotation_mode == "AXIS_ANGLE" else self.rotation_euler


@dataclass
class RigSnapshot:
    """The values preview touches on a rig, keyed by names, to put back with restore_rig()."""

    shape_keys: dict[tuple[str, str], float] = field(default_factory=dict)
    bones: dict[tuple[str, str], BoneState] = field(default_factory=dict)
    props: dict[tuple[str, str], Any] = field(default_factory=dict)


def snapshot_rig(targets: Iterable[Target]) -> RigSnapshot:
    """Record what applying values to these targets would change; missing data is skipped."""
    snap = RigSnapshot()
    for target in map(parse_target, targets):
        if target.kind == SHAPE_KEY:
            block = shape_key_block(target)
            if block is not None:
                snap.shape_keys[(target.object_name, target.name)] = block.value
        elif target.kind == BONE:
            bone = pose_bone(target)
            if bone is not None and target.bone_key not in snap.bones:
                snap.bones[target.bone_key] = BoneState.read(bone)
        else:
            obj = find_object(target.object_name)
            if obj is not None:
                snap.props[(target.object_name, target.name)] = _plain(obj.get(target.name, _MISSING))
    return snap


def restore_rig(snapshot: RigSnapshot) -> list[str]:
    """Put back every value in the snapshot; returns what could not be restored, in words."""
    problems: dict[str, None] = {}  # ordered and without repeats

    def gone(obj_name: str, what: str) -> None:
        missing_object = find_object(obj_name) is None
        problems[f"object {obj_name!r} is gone" if missing_object else f"{what} on {obj_name!r} is gone"] = None

    for (obj_name, key_name), value in snapshot.shape_keys.items():
        block = shape_key_block(ParsedTarget(SHAPE_KEY, obj_name, key_name))
        if block is None:
            gone(obj_name, f"shape key {key_name!r}")
        else:
            block.value = value
    for (arm_name, bone_name), state in snapshot.bones.items():
        bone = pose_bone(ParsedTarget(BONE, arm_name, bone_name))
        if bone is None:
            gone(arm_name, f"bone {bone_name!r}")
        else:
            state.write(bone)
    for (obj_name, prop_name), value in snapshot.props.items():
        obj = find_object(obj_name)
        if obj is None:
            gone(obj_name, "")
        elif value is _MISSING:
            obj.pop(prop_name, None)
        else:
            obj[prop_name] = value
    return list(problems)


def apply_frame(values: Mapping[Target, float]) -> list[Target]:
    """Write one frame of mapped values to the rig; returns the targets that were not found.

    A bone's rotation targets are the three components of a rotation vector in its rest
    frame (those not in `values` are 0): the bone gets exactly that rotation, in its
    rotation mode (see bone_rotation_values). Targets are tuples or mapping Targets with
    their owner set (see targets.bind()). NaN values (no face this frame) leave their
    target as it is.
    """
    missing: list[Target] = []
    bone_rotations: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for raw, value in values.items():
        if value != value:  # NaN
            continue
        target = parse_target(raw)
        if target.kind == SHAPE_KEY:
            block = shape_key_block(target)
            if block is None:
                missing.append(raw)
            else:
                block.value = value
        elif target.kind == BONE:
            bone = pose_bone(target)
            if bone is None:
                missing.append(raw)
            elif target.channel == LOCATION:
                bone.location[target.axis] = value
            else:
                bone_rotations[target.bone_key][target.axis] = value
        else:
            obj = find_object(target.object_name)
            if obj is None:
                missing.append(raw)
            else:
                obj[target.name] = float(value)
    _set_rotations(bone_rotations)
    return missing


def _set_rotations(bone_rotations: Mapping[tuple[str, str], Mapping[int, float]]) -> None:
    """Give each bone its rotation: one conversion per rotation mode for all the bones in it."""
    by_mode: dict[str, list] = defaultdict(list)
    for key, axes in bone_rotations.items():
        bone = pose_bone(ParsedTarget(BONE, *key))
        vector = [axes.get(axis, 0.0) for axis in range(3)]
        by_mode[bone.rotation_mode].append((bone, vector))
    for mode, items in by_mode.items():
        prop = rotation_property(mode)
        quats = rotations.rotation_vector_to_quaternion([vector for _, vector in items])
        values = rotations.bone_rotation_near(quats, mode, [tuple(getattr(bone, prop)) for bone, _ in items])
        for (bone, _), value in zip(items, values.tolist()):
            setattr(bone, prop, value)


def rotation_property(mode: str) -> str:
    """The pose-bone property that holds the rotation in this rotation mode."""
    return {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(mode, "rotation_euler")


def bone_rotation_values(vectors: np.ndarray, state: BoneState) -> np.ndarray:
    """(N,3) rotation vectors in a bone's rest frame over time -> (N, 3 or 4) values of its
    rotation property, continuous from its present value (the bake; live preview converts
    with the same rotations module, several bones at a time)."""
    quats = rotations.rotation_vector_to_quaternion(vectors)
    return rotations.bone_rotation_channels(quats, state.rotation_mode, state.current())


def _plain(value: Any) -> Any:
    """A custom property value detached from Blender (arrays and groups become lists/dicts)."""
    for method in ("to_dict", "to_list"):
        if hasattr(value, method):
            return getattr(value, method)()
    return value
