"""Every mesh of a character that carries ARKit keys follows one mapping (issue 10, item 2).

A character like a Ready Player Me avatar: the head, the teeth (parented to the armature)
and two eyes (deformed by it, keys spelled another way) all carry ARKit shape keys. Auto-detect
on the armature finds the head, and the head's rows drive every mesh, live and baked: the
teeth open with the jaw in every frame.
"""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from bake_scene import curves_by_path, face_mesh, head_rig, keys
from face_mocap.mapping.channels import CHANNEL_INDEX, N_CHANNELS
from face_mocap.ui import character, livelink_io, mapping_tables, rig_apply, takes_io
from face_mocap.ui.live_rig import LiveRig
from face_mocap.ui.bake_take import bake_take

HEAD_KEYS = ("jawOpen", "mouthClose", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookInLeft", "mouthSmileLeft")


def build_character():
    rig = head_rig("Avatar")
    head = face_mesh("Head", HEAD_KEYS)
    teeth = face_mesh("Teeth", ("jawOpen", "mouthClose"))
    eye = face_mesh("EyeLeft", ("EyeLookInLeft", "EyeBlinkLeft"))  # PascalCase, as some tools write
    body = face_mesh("Body", ())  # no ARKit keys: left alone
    prop = face_mesh("Prop", ("jawOpen",))  # another character's: left alone
    head.parent = teeth.parent = body.parent = rig
    for obj in (head, eye):  # the eyes only through the Armature modifier, the way skinned meshes are
        obj.modifiers.new("Armature", "ARMATURE").object = rig
    return rig, head, teeth, eye, body, prop


def test_auto_detect_finds_the_head_and_every_mesh_with_keys(addon):
    rig, head, teeth, eye, _body, _prop = build_character()
    settings = bpy.context.scene.face_mocap
    settings.target_armature = rig
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    assert settings.target_mesh == head  # the mesh with the most ARKit keys
    assert [obj.name for obj in character.character_meshes(head, rig)] == ["EyeLeft", "Teeth"]
    table = mapping_tables.character_table(head, rig)
    by_owner = {}
    for target in table.targets:
        by_owner.setdefault(target.owner, set()).add(target.name)
    assert by_owner["Teeth"] == {"jawOpen", "mouthClose"}
    assert by_owner["EyeLeft"] == {"EyeLookInLeft", "EyeBlinkLeft"}
    assert "Prop" not in by_owner and "Body" not in by_owner


def test_teeth_and_eyes_follow_the_head_live(addon):
    rig, head, teeth, eye, _body, _prop = build_character()
    settings = bpy.context.scene.face_mocap
    settings.target_armature = rig
    bpy.ops.facemocap.auto_detect_mapping()
    live_rig = LiveRig.from_scene(bpy.context.scene)
    channels = np.zeros(N_CHANNELS)
    for value in (0.0, 0.35, 0.8):
        channels[CHANNEL_INDEX["jawOpen"]] = value
        channels[CHANNEL_INDEX["eyeBlinkLeft"]] = 1.0 - value
        frame = live_rig.pipeline.table.evaluate_frame(channels)
        rig_apply.apply_frame({live_rig.bound[t]: v for t, v in frame.items()})
        jaw = head.data.shape_keys.key_blocks["jawOpen"].value
        assert jaw == pytest.approx(value) and teeth.data.shape_keys.key_blocks["jawOpen"].value == jaw
        assert eye.data.shape_keys.key_blocks["EyeBlinkLeft"].value == pytest.approx(1.0 - value)
    live_rig.restore()
    assert teeth.data.shape_keys.key_blocks["jawOpen"].value == 0.0


def test_teeth_jaw_open_equals_head_jaw_open_in_every_baked_frame(addon, interop):
    rig, head, teeth, eye, _body, prop = build_character()
    scene = bpy.context.scene
    scene.face_mocap.target_armature = rig
    bpy.ops.facemocap.auto_detect_mapping()
    item, _ = livelink_io.import_livelink(scene, str(interop / "MySlate_3_Jason_Millers_iPhone.csv"))

    result = bake_take(scene, takes_io.resolve(item), head, rig, "Take")

    assert {"Take_Head_shapes", "Take_Teeth_shapes", "Take_EyeLeft_shapes"} <= {a.name for a in result.actions}
    head_jaw = keys(curves_by_path(head.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    teeth_jaw = keys(curves_by_path(teeth.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    assert len(head_jaw) > 100 and np.array_equal(head_jaw, teeth_jaw)  # 5.4 s at 24 fps
    assert head_jaw[:, 1].max() - head_jaw[:, 1].min() > 0.2  # the jaw really moves in this take
    eye_blink = keys(curves_by_path(eye.data.shape_keys)[('key_blocks["EyeBlinkLeft"].value', 0)])
    head_blink = keys(curves_by_path(head.data.shape_keys)[('key_blocks["eyeBlinkLeft"].value', 0)])
    assert np.array_equal(eye_blink, head_blink)
    assert prop.data.shape_keys.animation_data is None  # not part of this character


def test_a_chosen_collection_adds_meshes_the_armature_does_not_own(addon):
    rig, head, teeth, _eye, _body, _prop = build_character()
    beard = face_mesh("Beard", ("jawOpen", "mouthSmileLeft"))  # neither parented nor skinned
    extras = bpy.data.collections.new("Avatar extras")
    bpy.context.scene.collection.children.link(extras)
    extras.objects.link(beard)
    settings = bpy.context.scene.face_mocap
    settings.target_armature, settings.target_mesh = rig, head
    bpy.ops.facemocap.auto_detect_mapping()
    assert "Beard" not in {t.owner for t in mapping_tables.scene_character_table(bpy.context.scene).targets}
    settings.target_collection = extras
    table = mapping_tables.scene_character_table(bpy.context.scene)
    assert {t.name for t in table.targets if t.owner == "Beard"} == {"jawOpen", "mouthSmileLeft"}
