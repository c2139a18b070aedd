"""Add Demo Head in real bpy: the mesh, its shape keys, the rig that deforms it, and its mapping."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from face_mocap.mapping.channels import ARKIT_NAMES

CHIN, FOREHEAD, NOSE_TIP = 152, 10, 4


def evaluated_points(obj: bpy.types.Object) -> np.ndarray:
    """World-space vertex positions after shape keys and the Armature modifier."""
    bpy.context.view_layer.update()
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    evaluated.to_mesh_clear()
    matrix = np.array(obj.matrix_world)
    co = co.reshape(-1, 3)
    return co @ matrix[:3, :3].T + matrix[:3, 3]


@pytest.fixture
def demo(addon):
    assert bpy.ops.facemocap.add_demo_head() == {"FINISHED"}
    settings = bpy.context.scene.face_mocap
    return settings.target_mesh, settings.target_armature


def test_one_click_makes_a_face_with_uvs_52_arkit_keys_and_a_rig(demo):
    face, rig = demo
    assert face is not None and rig is not None and face.parent == rig
    assert len(face.data.vertices) == 468 and face.data.uv_layers
    keys = [k.name for k in face.data.shape_keys.key_blocks]
    assert keys[0] == "Basis" and keys[1:] == list(ARKIT_NAMES)
    assert {b.name for b in rig.data.bones} == {"neck", "head", "jaw", "eye.L", "eye.R"}
    assert rig.data.bones["jaw"].parent.name == "head" and rig.data.bones["head"].parent.name == "neck"
    height = np.ptp(np.array([v.co for v in face.data.vertices])[:, 2])
    assert 0.15 < height < 0.22, "a real-size face (canonical cm -> metres)"


def test_shape_keys_deform_their_region(demo):
    face, _rig = demo
    rest = evaluated_points(face)
    face.data.shape_keys.key_blocks["jawOpen"].value = 1.0
    opened = evaluated_points(face)
    assert rest[CHIN, 2] - opened[CHIN, 2] > 0.015
    assert np.allclose(rest[FOREHEAD], opened[FOREHEAD], atol=1e-6)
    face.data.shape_keys.key_blocks["jawOpen"].value = 0.0
    face.data.shape_keys.key_blocks["eyeBlinkLeft"].value = 1.0
    blink = evaluated_points(face)
    assert blink[386, 2] < rest[386, 2] - 0.004  # the left upper lid comes down
    assert np.allclose(blink[159], rest[159], atol=1e-6)  # the right eye stays open


def test_bones_move_the_mesh_and_the_eyes(demo):
    face, rig = demo
    eyes = next(o for o in rig.children if o is not face)
    rest, rest_eyes = evaluated_points(face), evaluated_points(eyes)
    rig.pose.bones["jaw"].rotation_euler.x = math.radians(15)
    jaw = evaluated_points(face)
    assert np.linalg.norm(jaw[CHIN] - rest[CHIN]) > 0.01
    assert np.allclose(jaw[FOREHEAD], rest[FOREHEAD], atol=1e-6)
    rig.pose.bones["jaw"].rotation_euler.x = 0.0
    rig.pose.bones["head"].rotation_euler.y = math.radians(20)  # the bone points up: local Y turns the head
    turned, turned_eyes = evaluated_points(face), evaluated_points(eyes)
    assert np.linalg.norm(turned[NOSE_TIP] - rest[NOSE_TIP]) > 0.01
    assert np.linalg.norm(turned_eyes - rest_eyes, axis=1).min() > 0.005, "the eyes follow the head"
    rig.pose.bones["head"].rotation_euler.y = 0.0
    rig.pose.bones["eye.L"].rotation_euler.z = math.radians(20)
    looked = evaluated_points(eyes)
    left = rest_eyes[:, 0] > 0
    assert np.linalg.norm(looked[left] - rest_eyes[left], axis=1).max() > 0.002
    assert np.allclose(looked[~left], rest_eyes[~left], atol=1e-6)


def test_the_demo_head_comes_with_its_mapping(demo):
    face, rig = demo
    face_rows = {row.source for row in face.face_mocap.rows}
    rig_targets = {row.target for row in rig.face_mocap.rows}
    assert {"jawOpen", "eyeBlinkLeft", "mouthSmileRight"} <= face_rows
    assert {"head", "eye.L", "eye.R"} <= rig_targets
    assert "jaw" not in rig_targets, "the jaw opens by its shape key only"
