"""Bake in real bpy: key counts, data paths, values, rotation modes, reduction, cancel."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest
from mathutils import Euler, Quaternion

from bake_scene import (channelbag_fcurves, curves_by_path, face_mocap_rig, keys, reset, rotation_vector,
                        set_fps)
from face_mocap.ui import bake
from face_mocap.mapping.errors import RetargetError
from face_mocap.mapping.retarget import Target

FPS = 24
DURATION = 3.0


@pytest.fixture(autouse=True)
def fresh_file():
    reset()
    set_fps(FPS)


def take_times(rate: float = 30.0, duration: float = DURATION, jitter: float = 0.004) -> np.ndarray:
    """Timestamps like a webcam's: about `rate` Hz with jitter, first at an arbitrary clock."""
    rng = np.random.default_rng(7)
    times = 1234.5 + np.arange(0.0, duration + 1e-9, 1.0 / rate)
    times[1:-1] += rng.uniform(-jitter, jitter, len(times) - 2)
    return times


def expected_at(times: np.ndarray, series: np.ndarray, frame: float, start: float = 1.0) -> float:
    return float(np.interp((frame - start) / FPS, times - times[0], series))


def test_shape_keys_and_bones_get_one_key_per_scene_frame_on_the_right_paths():
    face, rig = face_mocap_rig()
    times = take_times()
    t = times - times[0]
    values = {Target("shape_key", "jawOpen", owner="Face"): 0.5 + 0.5 * np.sin(t),
              Target("shape_key", "mouthSmileLeft", owner="Face"): t / DURATION,
              Target("bone_rotation", "head", 0, "Rig"): 0.2 * np.sin(2 * t),
              Target("bone_rotation", "head", 2, "Rig"): -0.3 * t,
              Target("bone_location", "head", 1, "Rig"): 0.01 * t}

    result = bake.bake_values(values, times, bake.BakeSettings(fps=FPS, name="Take"))

    assert sorted(a.name for a in result.actions) == ["Take_Face_shapes", "Take_Rig"]
    shape_curves = curves_by_path(face.data.shape_keys)
    bone_curves = curves_by_path(rig)
    assert set(shape_curves) == {('key_blocks["jawOpen"].value', 0), ('key_blocks["mouthSmileLeft"].value', 0)}
    # the rotation is the whole of the bone's rotation: all three angles are keyed
    assert set(bone_curves) == {*(('pose.bones["head"].rotation_euler', i) for i in range(3)),
                                ('pose.bones["head"].location', 1)}
    assert bone_curves[('pose.bones["head"].rotation_euler', 0)].group.name == "head"
    for fcurve in [*shape_curves.values(), *bone_curves.values()]:
        frames = keys(fcurve)[:, 0]
        assert abs(len(frames) - DURATION * FPS) <= 1
        assert frames[0] == 1.0 and np.all(np.diff(frames) == 1.0)
        assert all(k.interpolation == "LINEAR" for k in fcurve.keyframe_points)
    assert result.fcurve_count == 6 and result.key_count == sum(len(fc.keyframe_points) for fc in
                                                                 [*shape_curves.values(), *bone_curves.values()])
    assert result.frame_range == (1.0, 1.0 + DURATION * FPS)


def test_playing_the_baked_actions_moves_the_rig_like_the_take():
    face, rig = face_mocap_rig()
    times = take_times(rate=60.0)
    t = times - times[0]
    jaw = np.clip(np.sin(3 * t), 0, 1)
    yaw = 0.4 * np.sin(t)
    bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): jaw,
                      Target("bone_rotation", "head", 2, "Rig"): yaw},
                     times, bake.BakeSettings(fps=FPS, start_frame=1))
    scene = bpy.context.scene
    for frame in (1, 10, 17, 40, 72):
        scene.frame_set(frame)
        jaw_value = face.data.shape_keys.key_blocks["jawOpen"].value
        assert jaw_value == pytest.approx(expected_at(times, jaw, frame), abs=1e-5)
        assert rig.pose.bones["head"].rotation_euler.z == pytest.approx(expected_at(times, yaw, frame), abs=1e-5)


@pytest.mark.parametrize("mode", ["QUATERNION", "AXIS_ANGLE", "ZXY"])
def test_rotations_are_converted_to_the_bones_rotation_mode(mode):
    _face, rig = face_mocap_rig(rotation_modes={"head": mode})
    times = take_times(duration=2.0)
    t = times - times[0]
    angles = np.stack([0.3 * np.sin(t), 0.5 * np.cos(2 * t), -1.2 * t], axis=1)  # yaw passes 180 degrees
    values = {Target("bone_rotation", "head", axis, "Rig"): angles[:, axis] for axis in range(3)}
    bake.bake_values(values, times, bake.BakeSettings(fps=FPS))

    paths = {path for path, _index in curves_by_path(rig)}
    prop = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(mode, "rotation_euler")
    assert paths == {f'pose.bones["head"].{prop}'}
    bone = rig.pose.bones["head"]
    for frame in (1, 20, 45):
        bpy.context.scene.frame_set(frame)
        want = rotation_vector([expected_at(times, angles[:, a], frame) for a in range(3)])
        if mode == "QUATERNION":
            got = Quaternion(bone.rotation_quaternion)
        elif mode == "AXIS_ANGLE":
            got = Quaternion(bone.rotation_axis_angle[1:], bone.rotation_axis_angle[0])
        else:
            got = bone.rotation_euler.to_quaternion()
            assert bone.rotation_euler.order == "ZXY"
        assert abs(got.dot(want)) == pytest.approx(1.0, abs=1e-5)
    if mode == "ZXY":  # continuous angles: no 360-degree jumps between keys
        curves = curves_by_path(rig)
        assert all(np.abs(np.diff(keys(fc)[:, 1])).max() < 0.5 for fc in curves.values())


def test_quaternion_curves_never_flip_sign_between_keys():
    _face, rig = face_mocap_rig(rotation_modes={"head": "QUATERNION"})
    times = take_times(duration=4.0)
    yaw = 2.0 * np.pi * (times - times[0]) / 4.0  # one full turn
    bake.bake_values({Target("bone_rotation", "head", 2, "Rig"): yaw}, times, bake.BakeSettings(fps=FPS))
    curves = curves_by_path(rig)
    quats = np.stack([keys(curves[('pose.bones["head"].rotation_quaternion', i)])[:, 1] for i in range(4)], 1)
    assert np.all(np.einsum("ij,ij->i", quats[1:], quats[:-1]) > 0.9)


def test_a_driven_bone_gets_exactly_the_mapped_rotation():
    """Axes a take does not drive are 0 of the rotation vector, not the bone's old pose:
    the rotation that reaches the bone is the tracked one (issue 10)."""
    _face, rig = face_mocap_rig(rotation_modes={"jaw": "QUATERNION"})
    rig.pose.bones["jaw"].rotation_quaternion = Euler((0.0, 0.25, -0.1), "XYZ").to_quaternion()
    times = take_times(duration=1.0)
    opening = 0.3 * np.linspace(0, 1, len(times))
    bake.bake_values({Target("bone_rotation", "jaw", 0, "Rig"): opening}, times, bake.BakeSettings(fps=FPS))
    bpy.context.scene.frame_set(FPS + 1)
    euler = Quaternion(rig.pose.bones["jaw"].rotation_quaternion).to_euler("XYZ")
    assert tuple(euler) == pytest.approx((0.3, 0.0, 0.0), abs=1e-5)



def test_custom_properties_are_created_and_animated():
    _face, rig = face_mocap_rig()
    rig["existing"] = 5.0
    times = take_times(duration=1.0)
    ramp = np.linspace(0.0, 1.0, len(times))
    bake.bake_values({Target("property", "mouth_open", owner="Rig"): ramp,
                      Target("property", "existing", owner="Rig"): 1.0 - ramp},
                     times, bake.BakeSettings(fps=FPS))
    assert set(curves_by_path(rig)) == {('["mouth_open"]', 0), ('["existing"]', 0)}
    bpy.context.scene.frame_set(13)
    assert rig["mouth_open"] == pytest.approx(expected_at(times, ramp, 13), abs=1e-5)
    assert rig["existing"] == pytest.approx(expected_at(times, 1.0 - ramp, 13), abs=1e-5)


def test_key_reduction_keeps_the_curve_within_tolerance_with_fewer_keys():
    face, _rig = face_mocap_rig()
    times = take_times(duration=10.0)
    t = times - times[0]
    rng = np.random.default_rng(3)
    smile = np.clip(0.5 + 0.4 * np.sin(0.7 * t) + 0.01 * rng.standard_normal(len(t)), 0, 1)
    blink = (np.abs((t % 3.0) - 1.5) < 0.08).astype(float)  # sharp blinks must survive
    values = {Target("shape_key", "mouthSmileLeft", owner="Face"): smile,
              Target("shape_key", "eyeBlinkLeft", owner="Face"): blink}
    tolerance = 0.02

    full = bake.bake_values(values, times, bake.BakeSettings(fps=FPS, name="Full", assign=False))
    reduced = bake.bake_values(values, times, bake.BakeSettings(fps=FPS, name="Reduced", reduce_tolerance=tolerance))

    assert reduced.key_count < full.key_count / 3
    dense = {fc.data_path: fc for fc in channelbag_fcurves(full.actions[0])}
    for fcurve in curves_by_path(face.data.shape_keys).values():
        reference = keys(dense[fcurve.data_path])
        sparse = keys(fcurve)
        assert sparse[0, 0] == reference[0, 0] and sparse[-1, 0] == reference[-1, 0]
        played = np.array([fcurve.evaluate(frame) for frame in reference[:, 0]])
        assert np.max(np.abs(played - reference[:, 1])) <= tolerance + 1e-6
    assert max(keys(dense['key_blocks["eyeBlinkLeft"].value'])[:, 1]) == 1.0


def test_gaps_without_a_face_are_bridged_and_empty_targets_reported():
    face, _rig = face_mocap_rig()
    times = take_times(duration=2.0)
    jaw = np.linspace(0.0, 1.0, len(times))
    jaw[10:30] = np.nan
    result = bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): jaw,
                               Target("shape_key", "eyeBlinkLeft", owner="Face"): np.full(len(times), np.nan),
                               Target("shape_key", "noSuchShape", owner="Face"): jaw,
                               Target("bone_location", "tail", 0, "Rig"): jaw},
                              times, bake.BakeSettings(fps=FPS))
    curve = curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)]
    frame_values = keys(curve)[:, 1]
    assert np.all(np.isfinite(frame_values)) and np.all(np.diff(frame_values) >= -1e-6)
    assert len(result.skipped) == 3
    assert any("eyeBlinkLeft" in s for s in result.skipped)
    assert any("noSuchShape" in s for s in result.skipped)
    assert any("tail" in s for s in result.skipped)


def test_repeated_timestamps_are_baked_and_a_single_frame_gives_one_key():
    face, _rig = face_mocap_rig()
    times = np.array([0.0, 0.5, 0.5, 1.0])  # a camera that stamped two frames alike
    bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): np.array([0.0, 0.5, 0.5, 1.0])}, times,
                     bake.BakeSettings(fps=FPS, name="Repeats"))
    jaw = keys(curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    assert len(jaw) == FPS + 1 and np.allclose(jaw[:, 1], np.linspace(0.0, 1.0, FPS + 1), atol=1e-6)
    result = bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): np.array([0.7])}, np.array([12.0]),
                              bake.BakeSettings(fps=FPS, name="Still", start_frame=5))
    assert result.key_count == 1 and result.frame_range == (5.0, 5.0)


def test_cancelling_from_the_progress_callback_leaves_nothing_behind():
    face, rig = face_mocap_rig()
    times = take_times(duration=1.0)
    values = {Target("shape_key", name, owner="Face"): np.zeros(len(times)) for name in ("jawOpen", "eyeBlinkLeft")}
    values[Target("bone_location", "head", 2, "Rig")] = np.zeros(len(times))
    seen = []
    with pytest.raises(bake.BakeCancelled):
        bake.bake_values(values, times, bake.BakeSettings(fps=FPS), progress=lambda f: seen.append(f) or len(seen) < 2)
    assert len(bpy.data.actions) == 0
    assert face.data.shape_keys.animation_data is None and rig.animation_data is None

    seen.clear()
    bake.bake_values(values, times, bake.BakeSettings(fps=FPS), progress=seen.append)
    assert seen == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_an_action_the_bake_replaces_is_kept_in_the_file():
    face, _rig = face_mocap_rig()
    key = face.data.shape_keys
    key.animation_data_create().action = old = bpy.data.actions.new("HandMade")
    times = take_times(duration=1.0)
    result = bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): np.zeros(len(times))}, times,
                              bake.BakeSettings(fps=FPS, name="Take"))
    assert key.animation_data.action.name == "Take_Face_shapes"
    assert old.use_fake_user and result.kept_previous == ["HandMade"]


def test_start_frame_and_fractional_frame_rates():
    face, _rig = face_mocap_rig()
    times = take_times(duration=2.0)
    settings = bake.BakeSettings(fps=30000 / 1001, start_frame=101)
    result = bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): np.ones(len(times))}, times, settings)
    frames = keys(curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])[:, 0]
    assert frames[0] == 101 and abs(len(frames) - 2.0 * 30000 / 1001) <= 1
    assert result.frame_range == (101.0, frames[-1])
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 30000, 1001
    assert bake.scene_fps(bpy.context.scene) == pytest.approx(29.97, abs=1e-3)


def test_bad_input_is_refused_with_a_reason():
    face_mocap_rig()
    settings = bake.BakeSettings(fps=FPS)
    three = np.arange(3.0)
    with pytest.raises(bake.BakeError, match="timestamps go backwards"):
        bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): np.zeros(3)}, np.array([0.0, 0.2, 0.1]),
                         settings)
    with pytest.raises(bake.BakeError, match="no frames"):
        bake.bake_values({}, np.array([]), settings)
    with pytest.raises(bake.BakeError, match="2 values for 3 frames"):
        bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): np.zeros(2)}, three, settings)
    with pytest.raises(bake.BakeError, match="nothing to bake.*'noSuchShape' not found"):
        bake.bake_values({Target("shape_key", "noSuchShape", owner="Face"): np.zeros(3)}, three, settings)
    with pytest.raises(bake.BakeError, match="nothing to bake.*object 'Gone' not found"):
        bake.bake_values({Target("shape_key", "jawOpen", owner="Gone"): np.zeros(3)}, three, settings)
    with pytest.raises(RetargetError, match="unknown target kind 'bone_scale'"):
        Target("bone_scale", "head", 0, "Rig")
    assert len(bpy.data.actions) == 0


def test_baking_leaves_the_rig_values_as_they_were():
    face, rig = face_mocap_rig(rotation_modes={"head": "QUATERNION"})
    face.data.shape_keys.key_blocks["jawOpen"].value = 0.25
    rig.pose.bones["head"].rotation_quaternion = Euler((0.1, 0.2, 0.3)).to_quaternion()
    before = (0.25, *rig.pose.bones["head"].rotation_quaternion, *rig.pose.bones["head"].location)
    times = take_times(duration=1.0)
    bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): np.ones(len(times)),
                      Target("bone_rotation", "head", 1, "Rig"): np.ones(len(times)),
                      Target("bone_location", "head", 1, "Rig"): np.ones(len(times))},
                     times, bake.BakeSettings(fps=FPS))
    bone = rig.pose.bones["head"]
    after = (face.data.shape_keys.key_blocks["jawOpen"].value, *bone.rotation_quaternion, *bone.location)
    assert after == pytest.approx(before) and bpy.context.mode == "OBJECT"


def test_layered_actions_use_one_slot_per_data_block():
    face, rig = face_mocap_rig()
    times = take_times(duration=1.0)
    result = bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): np.ones(len(times)),
                               Target("bone_location", "head", 1, "Rig"): np.ones(len(times))},
                              times, bake.BakeSettings(fps=FPS))
    if not bake.LAYERED_ACTIONS:
        assert {a.id_root for a in result.actions} == {"KEY", "OBJECT"}
        return
    for id_data, id_type in ((face.data.shape_keys, "KEY"), (rig, "OBJECT")):
        anim = id_data.animation_data
        assert [s.target_id_type for s in anim.action.slots] == [id_type]
        assert anim.action_slot == anim.action.slots[0]
    assert math.isclose(face.data.shape_keys.key_blocks["jawOpen"].value, 0.0)


def test_switching_baked_keys_to_bezier_keeps_the_same_curve():
    face, _rig = face_mocap_rig()
    times = take_times(duration=1.0)
    jaw = np.abs(np.sin(5 * (times - times[0])))
    bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): jaw}, times, bake.BakeSettings(fps=FPS))
    fcurve = curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)]
    between = np.arange(1.25, FPS, 0.5)
    linear = [fcurve.evaluate(frame) for frame in between]
    for point in fcurve.keyframe_points:
        assert tuple(point.handle_left) == tuple(point.co) == tuple(point.handle_right)
        point.interpolation = "BEZIER"
    assert [fcurve.evaluate(frame) for frame in between] == pytest.approx(linear, abs=1e-5)


def test_one_undo_step_takes_a_bake_back_and_redo_brings_it_again():
    face_mocap_rig(rotation_modes={"head": "QUATERNION"})
    bpy.ops.ed.undo_push(message="before bake")  # what the operator's REGISTER/UNDO does around execute()
    times = take_times(duration=1.0)
    bake.bake_values({Target("shape_key", "jawOpen", owner="Face"): np.ones(len(times)),
                      Target("bone_rotation", "head", 2, "Rig"): np.ones(len(times))},
                     times, bake.BakeSettings(fps=FPS))
    bpy.ops.ed.undo_push(message="Bake Take")

    bpy.ops.ed.undo()
    assert len(bpy.data.actions) == 0
    assert bpy.data.objects["Face"].data.shape_keys.animation_data is None
    assert bpy.data.objects["Rig"].animation_data is None
    bpy.ops.ed.redo()
    assert sorted(a.name for a in bpy.data.actions) == ["FaceMocap_Face_shapes", "FaceMocap_Rig"]
    assert len(curves_by_path(bpy.data.objects["Rig"])) == 4
