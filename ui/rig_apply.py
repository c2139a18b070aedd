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
from .targets import LOCATION, RigTarget, object_name, pose_bone, shape_key_block

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
    """The values preview touches on a rig, keyed by (object, name), to put back with restore_rig()."""

    shape_keys: dict[tuple[bpy.types.Object, str], float] = field(default_factory=dict)
    bones: dict[tuple[bpy.types.Object, str], BoneState] = field(default_factory=dict)
    props: dict[tuple[bpy.types.Object, str], Any] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # id() of the objects above -> name, to say which is gone


def snapshot_rig(targets: Iterable[RigTarget]) -> RigSnapshot:
    """Record what applying values to these targets would change; missing data is skipped."""
    snap = RigSnapshot()
    for target in targets:
        obj, name = target.obj, target.name
        snap.names[id(obj)] = obj.name
        if target.kind == "shape_key":
            block = shape_key_block(obj, name)
            if block is not None:
                snap.shape_keys[(obj, name)] = block.value
        elif target.channel:
            bone = pose_bone(obj, name)
            if bone is not None and (obj, name) not in snap.bones:
                snap.bones[(obj, name)] = BoneState.read(bone)
        else:
            snap.props[(obj, name)] = _plain(obj.get(name, _MISSING))
    return snap


def restore_rig(snapshot: RigSnapshot) -> list[str]:
    """Put back every value in the snapshot (on the same objects, renamed or not); returns what
    could not be restored, in words."""
    problems: dict[str, None] = {}  # ordered and without repeats

    def gone(obj: bpy.types.Object, what: str) -> None:
        name = object_name(obj, "")
        if not name:
            what, name = "object", snapshot.names.get(id(obj), "?")
            problems[f"{what} {name!r} is gone"] = None
        else:
            problems[f"{what} on {name!r} is gone"] = None

    for (obj, key_name), value in snapshot.shape_keys.items():
        block = shape_key_block(obj, key_name) if object_name(obj, "") else None
        if block is None:
            gone(obj, f"shape key {key_name!r}")
        else:
            block.value = value
    for (obj, bone_name), state in snapshot.bones.items():
        bone = pose_bone(obj, bone_name) if object_name(obj, "") else None
        if bone is None:
            gone(obj, f"bone {bone_name!r}")
        else:
            state.write(bone)
    for (obj, prop_name), value in snapshot.props.items():
        if not object_name(obj, ""):
            gone(obj, "")
        elif value is _MISSING:
            obj.pop(prop_name, None)
        else:
            obj[prop_name] = value
    return list(problems)


def apply_frame(values: Mapping[RigTarget, float]) -> list[RigTarget]:
    """Write one frame of mapped values to the rig; returns the targets that were not found.

    A bone's rotation targets are the three components of a rotation vector in its rest
    frame (those not in `values` are 0): the bone gets exactly that rotation, in its
    rotation mode (see bone_rotation_values). NaN values (no face this frame) leave their
    target as it is. A deleted object raises ReferenceError.
    """
    missing: list[RigTarget] = []
    bone_rotations: dict[tuple[bpy.types.Object, str], dict[int, float]] = defaultdict(dict)
    bones: dict[tuple[bpy.types.Object, str], bpy.types.PoseBone] = {}
    for target, value in values.items():
        if value != value:  # NaN
            continue
        obj, name = target.obj, target.name
        if target.kind == "shape_key":
            block = shape_key_block(obj, name)
            if block is None:
                missing.append(target)
            else:
                block.value = value
        elif target.channel:
            bone = bones[(obj, name)] if (obj, name) in bones else pose_bone(obj, name)
            if bone is None:
                missing.append(target)
            elif target.channel == LOCATION:
                bone.location[target.axis] = value
            else:
                bones[(obj, name)] = bone
                bone_rotations[(obj, name)][target.axis] = value
        else:
            obj[name] = float(value)
    _set_rotations({bones[key]: axes for key, axes in bone_rotations.items()})
    return missing


def _set_rotations(bone_rotations: Mapping[bpy.types.PoseBone, Mapping[int, float]]) -> None:
    """Give each bone its rotation: one conversion per rotation mode for all the bones in it."""
    by_mode: dict[str, list] = defaultdict(list)
    for bone, axes in bone_rotations.items():
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
