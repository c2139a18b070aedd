"""Bake a take's mapped values to keyframes: one action per animated data-block.

Shape keys go to an action on the mesh's Key data-block, bones and custom properties to
an action on their object. The take's timestamps are resampled onto scene frames
(frame = start + t * fps), keys are optionally reduced, and each f-curve is written once
with keyframe_points.add + foreach_set: never a keyframe_insert loop. Works with Blender
4.2's Action.fcurves and 4.4+/5.x layered actions (layers / strips / channelbags / slots).
With as_strips each action goes onto an NLA track of its own, a strip named after the take
(nla.py). Only data is created (no mode switches, no frame changes), so an operator's undo
step covers it all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Generator, Mapping

import bpy
import numpy as np

from ..mapping import keyframes
from ..mapping.retarget import Target
from . import nla
from .rig_apply import BoneState, bone_rotation_values, rotation_property
from .targets import LOCATION, pose_bone, quoted, resolve, shape_key_block

LAYERED_ACTIONS = bpy.app.version >= (4, 4, 0)
LINEAR = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value

# progress(fraction done in 0..1) -> False to cancel; None or True to go on
ProgressCallback = Callable[[float], "bool | None"]


class BakeError(Exception):
    """A bake that cannot be done, with what the user can do about it."""


class BakeCancelled(BakeError):
    """The progress callback asked to stop; nothing was left behind."""


@dataclass
class BakeSettings:
    """What the bake operator passes in (copied from its properties, so no context here)."""

    fps: float
    start_frame: float = 1.0
    name: str = "FaceMocap"  # actions are called "<name>_<object>" (+ "_shapes" for shape keys)
    reduce_tolerance: float = 0.0  # > 0: drop keys that linear interpolation predicts this closely
    assign: bool = True  # make the new actions active on their data-blocks (or strips, below)
    as_strips: bool | None = None  # each action on a new NLA track; None: when the rig holds a baked take


@dataclass
class BakeResult:
    """What a bake made, for the operator's report."""

    actions: list[bpy.types.Action] = field(default_factory=list)
    fcurve_count: int = 0
    key_count: int = 0
    frame_range: tuple[float, float] = (0.0, 0.0)
    skipped: list[str] = field(default_factory=list)  # targets not baked, in words
    kept_previous: list[str] = field(default_factory=list)  # replaced actions given a fake user
    strips: list[bpy.types.NlaStrip] = field(default_factory=list)  # when baked as NLA strips


@dataclass
class _Curve:
    data_path: str
    index: int
    group: str
    values: np.ndarray | None  # one value per scene frame; None: resampled from `take_values` when written
    take_values: np.ndarray | None = None  # one per take frame (the mapped values themselves, not a copy)

    def frame_values(self, resampler: keyframes.Resampler) -> np.ndarray:
        """Its value at every scene frame: a curve resampled only when it is written holds
        no take-long array until then (a bake holds one such curve at a time, not all)."""
        return self.values if self.values is not None else resampler(self.take_values)


@dataclass
class _Owner:
    """One data-block that gets one action."""

    id_data: bpy.types.ID
    id_type: str  # 'OBJECT' or 'KEY'
    action_name: str
    curves: list[_Curve] = field(default_factory=list)
    new_props: dict[str, float] = field(default_factory=dict)  # custom properties to create


def objects_to_bake(names: tuple[str, str], defaults: tuple) -> tuple:
    """(mesh, armature): each object named (by a script or the command line), else its default;
    BakeError for a name no object has. Either may be None."""
    found = []
    for name, default in zip(names, defaults):
        obj = bpy.data.objects.get(name) if name else default
        if name and obj is None:
            raise BakeError(f"no object named '{name}' in this file")
        found.append(obj)
    return tuple(found)


def scene_fps(scene: bpy.types.Scene) -> float:
    """The scene's real frame rate (fps / fps_base)."""
    return scene.render.fps / scene.render.fps_base


def bake_values(values: Mapping[Target, np.ndarray], times_s: np.ndarray, settings: BakeSettings,
                progress: ProgressCallback | None = None) -> BakeResult:
    """Bake per-target value arrays (one value per take frame at times_s) into actions; each
    target's object is found once (targets.resolve), as live preview does."""
    steps = bake_steps(values, times_s, settings)
    try:
        while True:
            fraction = next(steps)
            if progress is not None and progress(fraction) is False:
                steps.throw(BakeCancelled("bake cancelled"))
    except StopIteration as done:
        return done.value


def bake_steps(values: Mapping[Target, np.ndarray], times_s: np.ndarray,
               settings: BakeSettings) -> Generator[float, None, BakeResult]:
    """bake_values() one f-curve at a time, for a bake that runs in steps (a modal operator):
    yields the fraction done after each curve and returns the BakeResult. Closing it, or
    throwing BakeCancelled into it, before the end removes every action it made. Each curve's
    values are let go once it is written: with no other reference to `values`, a rig whose
    curves are written holds none of the take's values until its actions are placed."""
    times = _check_times(times_s, settings)
    result = BakeResult()
    resampler = keyframes.Resampler(times, settings.fps)
    owners = _plan(values, resampler, settings, result)
    del values  # the curves hold what they write, each only until it is written
    if not owners:
        why = "; ".join(result.skipped[:3]) or "the mapping has no rows"
        raise BakeError(f"nothing to bake onto this rig: {why}")
    frames = settings.start_frame + np.arange(resampler.frame_count, dtype=np.float64)
    result.frame_range = (float(frames[0]), float(frames[-1]))
    curve_total = sum(len(owner.curves) for owner in owners) or 1
    written: list[tuple[_Owner, bpy.types.Action, object]] = []
    try:
        for owner in owners:
            action, slot, writer = _new_action(owner)
            written.append((owner, action, slot))
            for curve in owner.curves:
                result.key_count += _write_curve(writer(curve), frames, curve.frame_values(resampler),
                                                 settings.reduce_tolerance)
                curve.values = curve.take_values = None  # a written rig holds no take-long values
                result.fcurve_count += 1
                yield result.fcurve_count / curve_total
    except BaseException:  # cancelled, closed or failed: nothing is left half-made
        for _owner, action, _slot in written:
            try:
                bpy.data.actions.remove(action)
            except ReferenceError:  # already gone with the file it was in
                pass
        raise
    as_strips = settings.as_strips
    if as_strips is None:  # several takes on one rig: compared on the NLA
        as_strips = any(nla.holds_other_take(owner.id_data, settings.name) for owner, _action, _slot in written)
    for owner, action, slot in written:
        result.actions.append(action)
        nla.mark(action, settings.name)
        for prop_name, value in owner.new_props.items():
            owner.id_data[prop_name] = value
        if not settings.assign:
            action.use_fake_user = True
        elif as_strips:
            nla.stash_active_take(owner.id_data)
            result.strips.append(nla.add_strip(owner.id_data, action, slot, settings.name, result.kept_previous))
        else:
            _assign(owner.id_data, action, slot, result)
    return result


def _check_times(times_s: np.ndarray, settings: BakeSettings) -> np.ndarray:
    times = np.asarray(times_s, np.float64).ravel()
    if len(times) == 0:
        raise BakeError("the take has no frames to bake")
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0.0):  # repeats are fine: interp takes one
        raise BakeError("the take's timestamps go backwards: re-record or re-import it")
    if not settings.fps > 0.0:
        raise BakeError(f"the scene frame rate must be positive, got {settings.fps}")
    return times


def _plan(values: Mapping[Target, np.ndarray], resampler: keyframes.Resampler, settings: BakeSettings,
          result: BakeResult) -> list[_Owner]:
    """Resolve targets to data-blocks and data paths; bone and custom property curves get their
    values now, shape keys (most curves) when written."""
    owners: dict[tuple[str, str], _Owner] = {}
    bone_axes: dict[tuple[bpy.types.Object, str], dict[tuple[str, int], np.ndarray]] = defaultdict(dict)

    def owner_for(id_data: bpy.types.ID, id_type: str, suffix: str, obj_name: str) -> _Owner:
        key = (id_type, id_data.name)
        if key not in owners:
            owners[key] = _Owner(id_data, id_type, f"{settings.name}_{obj_name}{suffix}")
        return owners[key]

    bound, missing = resolve(values)
    for target in missing:
        result.skipped.append(f"object {target.owner!r} not found for {target.label}")
    for target, rig_target in bound.items():
        series = np.asarray(values[target])  # a view of the mapped values: no copy is kept
        series = series if series.ndim == 1 else series.ravel()
        if len(series) != len(resampler.times):
            raise BakeError(f"{target.label} has {len(series)} values for {len(resampler.times)} frames")
        if not np.isfinite(series).any():
            result.skipped.append(f"{target.name}: no value in any frame")
            continue
        obj, name = rig_target.obj, target.name
        if target.kind == "shape_key":
            if shape_key_block(obj, name) is None:
                result.skipped.append(f"shape key {name!r} not found on {obj.name!r}")
                continue
            owner_for(obj.data.shape_keys, "KEY", "_shapes", obj.name).curves.append(
                _Curve(f"key_blocks[{quoted(name)}].value", 0, "", None, series))
        elif rig_target.channel:
            if pose_bone(obj, name) is None:
                result.skipped.append(f"bone {name!r} not found on {obj.name!r}")
                continue
            # a bone's rotation axes become its rotation together
            bone_axes[rig_target.bone_key][(rig_target.channel, target.axis)] = resampler(series)
        else:
            sampled = resampler(series)
            owner = owner_for(obj, "OBJECT", "", obj.name)
            owner.curves.append(_Curve(f"[{quoted(name)}]", 0, "", sampled))
            if name not in obj:  # an f-curve only animates a property that exists
                owner.new_props[name] = float(sampled[0])
    for (arm, bone_name), axes in bone_axes.items():
        owner_for(arm, "OBJECT", "", arm.name).curves.extend(_bone_curves(arm.pose.bones[bone_name], axes))
    return list(owners.values())


def _bone_curves(bone: bpy.types.PoseBone, axes: dict[tuple[str, int], np.ndarray]) -> list[_Curve]:
    """Location and rotation curves of one bone; its rotation axes are a rotation vector in
    its rest frame (axes not driven are 0), written in its rotation mode as live preview does."""
    prefix = f"pose.bones[{quoted(bone.name)}]"
    curves = [_Curve(f"{prefix}.location", axis, bone.name, series)
              for (channel, axis), series in sorted(axes.items()) if channel == LOCATION]
    rotation = {axis: series for (channel, axis), series in axes.items() if channel != LOCATION}
    if not rotation:
        return curves
    vectors = np.zeros((len(next(iter(rotation.values()))), 3))
    for axis, series in rotation.items():
        vectors[:, axis] = series
    channels = bone_rotation_values(vectors, BoneState.read(bone))
    path = f"{prefix}.{rotation_property(bone.rotation_mode)}"
    return curves + [_Curve(path, i, bone.name, channels[:, i]) for i in range(channels.shape[1])]


def _new_action(owner: _Owner):
    """A new empty action for one data-block, and a function making its f-curves."""
    action = bpy.data.actions.new(owner.action_name)
    if not LAYERED_ACTIONS:
        action.id_root = owner.id_type
        return action, None, lambda c: action.fcurves.new(c.data_path, index=c.index, action_group=c.group)
    slot = action.slots.new(id_type=owner.id_type, name=owner.id_data.name)
    channelbag = action.layers.new("Face Mocap").strips.new(type="KEYFRAME").channelbag(slot, ensure=True)

    def new_fcurve(curve: _Curve) -> bpy.types.FCurve:
        fcurve = channelbag.fcurves.new(curve.data_path, index=curve.index)
        if curve.group:  # fcurves.new(group_name=) only exists from 5.0; groups work from 4.4
            fcurve.group = channelbag.groups.get(curve.group) or channelbag.groups.new(curve.group)
        return fcurve

    return action, slot, new_fcurve


def _write_curve(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray, tolerance: float) -> int:
    """Fill an empty f-curve in one go (linear interpolation); returns the key count."""
    if tolerance > 0.0:
        kept = keyframes.reduce_keys(frames, values, tolerance)
        frames, values = frames[kept], values[kept]
    count = len(frames)
    points = fcurve.keyframe_points
    points.add(count)
    co = np.empty(2 * count, np.float32)
    co[0::2], co[1::2] = frames, values
    # co_ui moves each key's handles with it: new keys start with key and handles at 0, so the
    # handles land on the key. Linear segments stay straight even if switched to Bezier, and it
    # is one write instead of co + two handles or fcurve.update() (the keys are already sorted).
    points.foreach_set("co_ui", co)
    points.foreach_set("interpolation", np.full(count, LINEAR, np.uint8))  # uint8 = Blender's type: 10x faster
    return count


def _assign(id_data: bpy.types.ID, action: bpy.types.Action, slot, result: BakeResult) -> None:
    """Make the action active on the data-block; an action it replaces is kept in the file."""
    anim = id_data.animation_data or id_data.animation_data_create()
    previous = anim.action
    if previous is not None and not previous.use_fake_user:
        previous.use_fake_user = True
        result.kept_previous.append(previous.name)
    anim.action = action
    if slot is not None:
        anim.action_slot = slot
