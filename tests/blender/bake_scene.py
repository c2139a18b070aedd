"""Scenes for the bake tests: a test character built with real bpy, and f-curve lookups."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import addon_utils
import bpy
import numpy as np
import pytest
from mathutils import Quaternion

ARKIT_SAMPLE = ("jawOpen", "mouthSmileLeft", "mouthSmileRight", "eyeBlinkLeft", "eyeBlinkRight")
BONES = (("neck", (0, 0, 1.4), (0, 0, 1.55), None),
         ("head", (0, 0, 1.55), (0, 0, 1.8), "neck"),
         ("jaw", (0, -0.02, 1.6), (0, -0.1, 1.55), "head"),
         ("eye.L", (0.03, -0.08, 1.68), (0.03, -0.1, 1.68), "head"),
         ("eye.R", (-0.03, -0.08, 1.68), (-0.03, -0.1, 1.68), "head"))


@pytest.fixture(scope="module")
def rigify_blend(tmp_path_factory) -> Path:
    """A human metarig generated with Rigify, saved once per module (generation takes seconds).

    Import it into a test module (`from bake_scene import rigify_blend`) to use it there."""
    reset()
    addon_utils.enable("rigify", default_set=True)
    try:
        bpy.ops.object.armature_human_metarig_add()
        bpy.ops.pose.rigify_generate()
        path = tmp_path_factory.mktemp("rigify") / "rigify_rig.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    finally:
        addon_utils.disable("rigify", default_set=True)
    return path


def reset() -> None:
    """An empty file, as a fresh Blender would have."""
    bpy.ops.wm.read_factory_settings(use_empty=True)


def set_fps(fps: int) -> None:
    bpy.context.scene.render.fps = fps
    bpy.context.scene.render.fps_base = 1.0


def face_mesh(name: str = "Face", shapes: tuple[str, ...] = ARKIT_SAMPLE) -> bpy.types.Object:
    """A mesh object with a Basis and the given shape keys, each moving one vertex."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    for i, shape in enumerate(shapes):
        block = obj.shape_key_add(name=shape)
        block.data[i % 3].co.z = 0.1
        block.value = 0.0  # Blender 5.0 starts a new key at 1.0, 4.2 at 0.0
    return obj


def head_rig(name: str = "Rig", rotation_modes: dict[str, str] | None = None) -> bpy.types.Object:
    """An armature with neck, head, jaw and eye bones in XYZ Euler (edit mode only here, to build it)."""
    arm = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for bone_name, head, tail, parent in BONES:
        bone = arm.data.edit_bones.new(bone_name)
        bone.head, bone.tail = head, tail
        if parent:
            bone.parent = arm.data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    for bone in arm.pose.bones:  # XYZ Euler unless the test asks otherwise
        bone.rotation_mode = (rotation_modes or {}).get(bone.name, "XYZ")
    return arm


def face_mocap_rig(rotation_modes: dict[str, str] | None = None) -> tuple[bpy.types.Object, bpy.types.Object]:
    """The test character: mesh "Face" with ARKit shape keys and armature "Rig"."""
    return face_mesh("Face"), head_rig("Rig", rotation_modes)


def channelbag_fcurves(action: bpy.types.Action):
    """The f-curves of an action made by the bake, on 4.2 (legacy) or 4.4+ (layered)."""
    if hasattr(action, "layers") and action.layers:
        return action.layers[0].strips[0].channelbags[0].fcurves
    return action.fcurves


def curves_by_path(id_data: bpy.types.ID) -> dict[tuple[str, int], bpy.types.FCurve]:
    """{(data_path, index): fcurve} of the action active on a data-block."""
    action = id_data.animation_data.action
    return {(fc.data_path, fc.array_index): fc for fc in channelbag_fcurves(action)}


def keys(fcurve: bpy.types.FCurve) -> np.ndarray:
    """(N,2) frame, value of every key."""
    co = np.empty(2 * len(fcurve.keyframe_points), np.float32)
    fcurve.keyframe_points.foreach_get("co", co)
    return co.reshape(-1, 2).astype(np.float64)


def action_keys(actions) -> dict[tuple[str, str, int], np.ndarray]:
    """{(action's data-block kind, data path, index): (N, 2) keys} of the actions a bake made."""
    return {(action.name.split("_", 1)[1], fc.data_path, fc.array_index): keys(fc)
            for action in actions for fc in channelbag_fcurves(action)}



def check_one_key_per_frame(fcurves, frames: int, start: float, what: str = "") -> None:
    """Each f-curve keyed once on every scene frame from `start` on, `frames` keys in order, all finite."""
    for fc in fcurves:
        co = np.empty(2 * len(fc.keyframe_points), np.float32)
        fc.keyframe_points.foreach_get("co", co)
        assert len(co) == 2 * frames, (what, fc.data_path, len(co) // 2)
        assert co[0] == start and co[-2] == start + frames - 1, (what, fc.data_path, co[0], co[-2])
        assert (np.diff(co[0::2]) == 1).all() and np.isfinite(co[1::2]).all(), (what, fc.data_path)


def check_same_ends(clip: dict, whole: dict, edge: int, drift_frames: float = 0.0, what: str = "") -> None:
    """The first and last `edge` keys of a bake of a clip repeated end to end are the clip's own
    bake (both as action_keys): the start exactly, the end within what each curve moves in
    `drift_frames` (how far off the clip's own frames the scene frames sample the last repeat)."""
    assert clip.keys() == whole.keys(), what
    for curve, short in clip.items():
        np.testing.assert_allclose(whole[curve][:edge], short[:edge], rtol=0, atol=1e-5, err_msg=f"{what} {curve}")
        values, end = short[:, 1], whole[curve][-edge:, 1]
        moves = np.maximum(np.abs(np.diff(values, prepend=values[0])), np.abs(np.diff(values, append=values[-1])))
        off = np.abs(end - values[-edge:]) - (drift_frames * moves[-edge:] + 1e-5)
        assert (off <= 0).all(), (
            f"{what} {curve}: the last keys differ from the clip's by up to {off.max():.2g} more than allowed")

def curve_keys(action: bpy.types.Action) -> list:
    """Every f-curve of an action with its keys, on 4.2 (legacy) and 4.4+ (layered) actions."""
    if hasattr(action, "layers"):
        fcurves = [fc for layer in action.layers for strip in layer.strips for bag in strip.channelbags
                   for fc in bag.fcurves]
    else:
        fcurves = list(action.fcurves)
    return sorted((fc.data_path, fc.array_index, tuple(tuple(k.co) for k in fc.keyframe_points)) for fc in fcurves)


def file_state() -> dict:
    """Everything a bake could leave behind: actions and their keys, what each object plays,
    mapping rows, shape key values and the pose."""
    state = {"actions": sorted((a.name, a.users, a.use_fake_user) for a in bpy.data.actions)}
    for obj in bpy.data.objects:
        data = obj.data.shape_keys if obj.type == "MESH" else obj
        anim = data.animation_data if data is not None else None
        state[obj.name] = {
            "action": anim.action.name if anim is not None and anim.action is not None else None,
            "curves": curve_keys(anim.action) if anim is not None and anim.action is not None else [],
            "rows": [(r.source, r.target, r.target_type) for r in obj.face_mocap.rows],
            "preset": obj.face_mocap.preset,
            "props": sorted(obj.keys()),
        }
        if obj.type == "MESH" and obj.data.shape_keys is not None:
            state[obj.name]["keys"] = [(k.name, k.value) for k in obj.data.shape_keys.key_blocks]
        if obj.type == "ARMATURE":
            state[obj.name]["pose"] = [(b.name, tuple(b.rotation_quaternion), tuple(b.rotation_euler),
                                        tuple(b.location)) for b in obj.pose.bones]
    return state


def timer_event(run) -> str:
    """One timer event of the modal Bake, a short while after the last one as Blender's timer
    comes (the take is mapped in a worker thread meanwhile)."""
    from face_mocap.ui.bake_run import on_event

    time.sleep(0.002)
    return on_event(run, "TIMER")


def rotation_vector(vector) -> Quaternion:
    """exp(vector): the rotation about `vector` by its length (what a bone's three rotation
    targets stand for)."""
    vector = np.asarray(vector, np.float64)
    angle = float(np.linalg.norm(vector))
    return Quaternion(vector / angle, angle) if angle > 0 else Quaternion()


def csv_column(path, name: str) -> np.ndarray:
    """One column of a Live Link Face CSV, read with the csv module (independently of mapping/)."""
    with open(path, newline="") as fh:
        return np.array([float(row[name]) for row in csv.DictReader(fh)])


def skinned_box(rig: bpy.types.Object) -> bpy.types.Object:
    """A small mesh weighted to every bone, so the glTF exporter writes a skin (an armature)."""
    mesh = bpy.data.meshes.new("Body")
    verts = [(x, y, z) for x in (-0.1, 0.1) for y in (-0.1, 0.1) for z in (1.4, 1.8)]
    mesh.from_pydata(verts, [], [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)])
    obj = bpy.data.objects.new("Body", mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = rig
    obj.modifiers.new("Armature", "ARMATURE").object = rig
    for bone in rig.data.bones:
        obj.vertex_groups.new(name=bone.name).add(list(range(len(verts))), 1.0 / len(rig.data.bones), "REPLACE")
    return obj


def gltf_round_tripped_rig(folder: Path) -> bpy.types.Object:
    """head_rig() with a skinned box, exported to .glb, imported again and returned in an empty file.

    Blender 4.2's glTF add-on crashes bpy now and then, in export, in import (in create_bones) or
    later at exit, so both run in a fresh Python that saves the imported scene as a .blend and ends
    without bpy's teardown; this session only reads that .blend."""
    script = ("import os, sys; sys.path.insert(0, sys.argv[1]); import bpy; "
              "from bake_scene import head_rig, reset, skinned_box; "
              "reset(); skinned_box(head_rig('Rig')); "
              "assert bpy.ops.export_scene.gltf(filepath=sys.argv[2], export_format='GLB') == {'FINISHED'}; "
              "reset(); assert bpy.ops.import_scene.gltf(filepath=sys.argv[2]) == {'FINISHED'}; "
              "bpy.ops.wm.save_as_mainfile(filepath=sys.argv[3]); sys.stdout.flush(); os._exit(0)")
    glb, blend = folder / "character.glb", folder / "character.blend"
    done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent), str(glb), str(blend)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and blend.is_file(), done.stderr[-2000:]
    reset()
    with bpy.data.libraries.load(str(blend)) as (source, loaded):
        loaded.objects = list(source.objects)
    for obj in loaded.objects:
        bpy.context.scene.collection.objects.link(obj)
    return next(obj for obj in loaded.objects if obj.type == "ARMATURE")
