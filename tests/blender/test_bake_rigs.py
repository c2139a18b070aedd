"""Bake onto rigs made by others: a Rigify rig generated in bpy, and FBHead from Live Link Face."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from bake_scene import csv_column, curves_by_path, keys, rigify_blend, set_fps  # noqa: F401 (fixture)
from face_mocap.mapping import autodetect, livelink, pipeline
from face_mocap.mapping.channels import CHANNEL_INDEX, N_CHANNELS
from face_mocap.mapping.retarget import Target
from face_mocap.ui import bake, targets

FPS = 30


def open_blend(path: Path) -> None:
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    set_fps(FPS)


def world_matrices(rig: bpy.types.Object, frame: int) -> dict[str, np.ndarray]:
    bpy.context.scene.frame_set(frame)
    return {bone.name: np.array(bone.matrix) for bone in rig.pose.bones}


def test_rigify_head_neck_jaw_and_eyes_follow_a_baked_take(rigify_blend):
    open_blend(rigify_blend)
    rig = bpy.data.objects["rig"]
    times = np.arange(0.0, 2.0 + 1e-9, 1 / 60)
    rise = np.clip(times / 1.0, 0.0, 1.0)  # from rest at frame 1 to full at 1 s and after
    values = {Target("bone_rotation", "head", 0, "rig"): 0.3 * rise,
              Target("bone_rotation", "head", 2, "rig"): -0.4 * rise,
              Target("bone_rotation", "neck", 0, "rig"): 0.2 * rise,
              Target("bone_rotation", "jaw_master", 0, "rig"): 0.35 * rise}
    for side in ("L", "R"):
        values[Target("bone_location", f"eye.{side}", 0, "rig")] = 0.03 * rise
        values[Target("bone_location", f"eye.{side}", 1, "rig")] = -0.02 * rise

    result = bake.bake_values(values, times, bake.BakeSettings(fps=FPS, name="Take"))

    assert [a.name for a in result.actions] == ["Take_rig"] and not result.skipped
    curves = curves_by_path(rig)
    for bone in ("head", "neck", "jaw_master"):  # Rigify controls are quaternion bones
        assert all((f'pose.bones["{bone}"].rotation_quaternion', i) in curves for i in range(4))
    assert all(abs(len(keys(fc)) - 2.0 * FPS) <= 1 for fc in curves.values())
    rest, posed = world_matrices(rig, 1), world_matrices(rig, 1 + FPS + 10)
    for driven in ("DEF-spine.006", "DEF-spine.004", "DEF-jaw", "ORG-eye.L", "ORG-eye.R", "DEF-lid.T.L"):
        assert np.abs(posed[driven] - rest[driven]).max() > 1e-3, f"{driven} did not move"


def test_fbhead_shape_keys_follow_a_baked_take(interop):
    open_blend(interop / "Live_Link_Face.blend")
    head = bpy.data.objects["FBHead"]
    names = [block.name for block in head.data.shape_keys.key_blocks[1:]]
    assert len(names) == 51
    times = np.arange(0.0, 3.0 + 1e-9, 1 / 60)
    rng = np.random.default_rng(5)
    phases = rng.uniform(0, 2 * np.pi, len(names))
    values = {Target("shape_key", name, owner="FBHead"): 0.5 + 0.5 * np.sin(2 * times + phase)
              for name, phase in zip(names, phases)}
    rest = evaluated_vertices(head)

    result = bake.bake_values(values, times, bake.BakeSettings(fps=FPS, name="LLF", start_frame=20))

    curves = curves_by_path(head.data.shape_keys)
    assert len(curves) == 51 and result.key_count == sum(len(fc.keyframe_points) for fc in curves.values())
    assert all(abs(len(fc.keyframe_points) - 3.0 * FPS) <= 1 for fc in curves.values())
    bpy.context.scene.frame_set(50)
    for name, phase in zip(names, phases):
        expected = 0.5 + 0.5 * np.sin(2 * (50 - 20) / FPS + phase)
        assert head.data.shape_keys.key_blocks[name].value == pytest.approx(expected, abs=1e-4)
    assert np.abs(evaluated_vertices(head) - rest).max() > 1e-3  # the face really deforms


def evaluated_vertices(obj: bpy.types.Object) -> np.ndarray:
    """Vertex positions of the mesh as the depsgraph evaluates it (shape keys applied)."""
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    co = np.empty(3 * len(mesh.vertices), np.float32)
    mesh.vertices.foreach_get("co", co)
    evaluated.to_mesh_clear()
    return co.reshape(-1, 3)


def test_live_link_take_baked_onto_fbhead_through_auto_detect(interop):
    """The real iPhone take onto the character it was made for: CSV -> auto-detect -> map -> bake."""
    open_blend(interop / "Live_Link_Face.blend")
    head = bpy.data.objects["FBHead"]
    imported = livelink.read_livelink_csv(interop / "MySlate_3_Jason_Millers_iPhone.csv")
    take = imported.take
    table, report = autodetect.auto_detect(shape_keys=list(head.data.shape_keys.key_blocks.keys()), mesh="FBHead")
    assert len(report.shape_keys) == 51
    times = take.timestamps_us / 1e6
    fps = bake.scene_fps(bpy.context.scene)

    values = targets.with_owner(pipeline.map_take(take, table, smoothing="off"), "FBHead")
    result = bake.bake_values(values, times, bake.BakeSettings(fps=fps, name="MySlate_3"))

    curves = curves_by_path(head.data.shape_keys)
    assert len(curves) == 51 and not result.skipped
    duration = take.duration_s
    assert all(abs(len(fc.keyframe_points) - duration * fps) <= 1 for fc in curves.values())
    column = csv_column(interop / "MySlate_3_Jason_Millers_iPhone.csv", "JawOpen")
    jaw = keys(curves[('key_blocks["JawOpen"].value', 0)])
    expected = np.interp((jaw[:, 0] - 1) / fps, times - times[0], np.clip(column, 0, 1))
    assert np.abs(jaw[:, 1] - expected).max() < 1e-4
    assert jaw[:, 1].max() - jaw[:, 1].min() > 0.2  # the jaw really opens and closes in this take
    rest = evaluated_vertices(head)
    widest = times[np.argmax(column)] - times[0]
    bpy.context.scene.frame_set(1 + round(widest * fps))
    assert np.abs(evaluated_vertices(head) - rest).max() > 1e-3


def test_rigify_preset_via_auto_detect_drives_head_neck_jaw_and_eyes(rigify_blend):
    open_blend(rigify_blend)
    rig = bpy.data.objects["rig"]
    bone_rest = {bone.name: np.array(bone.matrix_local.to_3x3()) for bone in rig.data.bones}
    table, report = autodetect.auto_detect(bones=[b.name for b in rig.data.bones], bone_rest=bone_rest,
                                           armature="rig")
    assert report.rig == "rigify"
    times = np.arange(0.0, 2.0 + 1e-9, 1 / 30)
    channels = np.zeros((len(times), N_CHANNELS))
    rise = np.clip(times, 0.0, 1.0)
    for name, amount in (("headYaw", 0.5), ("headPitch", 0.3), ("jawAngle", 0.3),
                         ("eyeLeftYaw", 0.3), ("eyeRightYaw", 0.3), ("eyeLeftPitch", 0.2), ("eyeRightPitch", 0.2)):
        channels[:, CHANNEL_INDEX[name]] = amount * rise
    values = targets.with_owner(table.evaluate(channels), rig.name)

    bake.bake_values(values, times, bake.BakeSettings(fps=FPS, name="Take"))

    curves = curves_by_path(rig)
    for bone in ("head", "neck", "jaw_master", "eye.L", "eye.R"):
        assert any(path.startswith(f'pose.bones["{bone}"]') for path, _ in curves), bone
    rest, posed = world_matrices(rig, 1), world_matrices(rig, 1 + FPS + 10)
    for driven in ("DEF-spine.006", "DEF-spine.004", "DEF-jaw", "ORG-eye.L", "ORG-eye.R"):
        assert np.abs(posed[driven] - rest[driven]).max() > 1e-3, f"{driven} did not move"
