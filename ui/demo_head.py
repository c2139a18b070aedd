"""Add Demo Head: a ready-to-drive character built from MediaPipe's canonical face.

The geometry (shape keys, joints, jaw weights) comes from mapping/demo_face.py; this
module only turns it into Blender data: a face mesh with UVs and the 52 ARKit shape
keys, eyeballs, an armature (neck, head, jaw, eye.L, eye.R) deforming both, and the
mapping tables that drive it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import bmesh
import bpy
import numpy as np
from bpy.props import BoolProperty
from mathutils import Matrix

from ..capture.errors import ModelError
from ..mapping.canonical import CanonicalFace, load_canonical_face
from ..mapping.channels import TO_BLENDER
from ..mapping.demo_face import build_shape_offsets, eye_triangles, jaw_weights, mouth_triangles, rig_points
from ..mapping.errors import MappingError
from .i18n import rpt_
from .preferences import model_file

log = logging.getLogger(__name__)

CM = 0.01  # the canonical face is in cm; Blender units are metres
DEMO_NAME = "DemoHead"
DEMO_PRESET = "demo_head"  # mapping/presets/demo_head.json: shape keys + neck, head, eyes (jaw by shape key)
BONES = ("neck", "head", "jaw", "eye.L", "eye.R")


@dataclass
class DemoHead:
    """The objects Add Demo Head made."""

    armature: bpy.types.Object
    face: bpy.types.Object
    eyes: bpy.types.Object


def to_blender(points_cm: np.ndarray) -> np.ndarray:
    """Canonical-face points (cm) to Blender coordinates (m, character facing -Y, Z up)."""
    return np.asarray(points_cm, np.float64) @ TO_BLENDER.T * CM


def face_mesh(name: str, face: CanonicalFace, open_eyes: bool = True) -> bpy.types.Mesh:
    """The canonical face as a smooth-shaded triangle mesh with its UVs (image-style v flipped).

    With open_eyes the eye triangles are left out so eyeballs show; mouth triangles get material 1.
    """
    mesh = bpy.data.meshes.new(name)
    verts = to_blender(face.vertices)
    keep = ~eye_triangles(face) if open_eyes else np.ones(len(face.triangles), bool)
    tris = np.asarray(face.triangles, np.int32)[keep]
    mesh.vertices.add(len(verts))
    mesh.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    mesh.loops.add(tris.size)
    mesh.loops.foreach_set("vertex_index", tris.ravel())
    mesh.polygons.add(len(tris))
    mesh.polygons.foreach_set("loop_start", np.arange(0, tris.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("loop_total", np.full(len(tris), 3, np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(tris), bool))
    mesh.polygons.foreach_set("material_index", mouth_triangles(face)[keep].astype(np.int32))
    uv = mesh.uv_layers.new(name="UVMap")
    uvs = np.asarray(face.uvs, np.float64)[tris.ravel()]
    uvs[:, 1] = 1.0 - uvs[:, 1]
    uv.data.foreach_set("uv", uvs.astype(np.float32).ravel())
    mesh.update()
    mesh.validate()
    return mesh


def _add_shape_keys(obj: bpy.types.Object, face: CanonicalFace) -> None:
    """Basis + the 52 ARKit shape keys, each written in one foreach_set."""
    base = to_blender(face.vertices)
    obj.shape_key_add(name="Basis", from_mix=False)
    for name, offsets in build_shape_offsets(face).items():
        key = obj.shape_key_add(name=name, from_mix=False)
        key.slider_min, key.slider_max = 0.0, 1.0
        key.value = 0.0  # Blender 5.0 starts a new key at 1.0
        key.data.foreach_set("co", (base + to_blender(offsets)).astype(np.float32).ravel())


def _eyes_mesh(name: str, points) -> bpy.types.Mesh:
    """Two eyeballs (UV spheres) with vertex groups eye.L / eye.R assigned by the caller."""
    bm = bmesh.new()
    radius = points.eye_radius * CM
    for centre in (points.eye_left, points.eye_right):
        matrix = Matrix.Translation(to_blender(centre).tolist())
        bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=12, radius=radius, matrix=matrix)
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), bool))
    return mesh


def _paint_eyes(mesh: bpy.types.Mesh, centres: np.ndarray) -> np.ndarray:
    """White eyeballs with a dark iris looking forward (-Y); return which vertices are the left eye."""
    mesh.materials.append(_material("FaceMocapEye", (0.9, 0.9, 0.88, 1.0)))
    mesh.materials.append(_material("FaceMocapIris", (0.08, 0.15, 0.25, 1.0)))
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    left = np.linalg.norm(co - centres[0], axis=1) < np.linalg.norm(co - centres[1], axis=1)
    centre_of_face = np.empty(len(mesh.polygons) * 3, np.float32)
    mesh.polygons.foreach_get("center", centre_of_face)
    centre_of_face = centre_of_face.reshape(-1, 3)
    near_left = np.linalg.norm(centre_of_face - centres[0], axis=1) < np.linalg.norm(
        centre_of_face - centres[1], axis=1)
    direction = centre_of_face - np.where(near_left[:, None], centres[0], centres[1])
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    iris = direction[:, 1] < -np.cos(np.radians(30.0))  # within 30 degrees of straight ahead
    mesh.polygons.foreach_set("material_index", iris.astype(np.int32))
    return left


def _build_armature(context: bpy.types.Context, collection: bpy.types.Collection, points,
                    name: str) -> bpy.types.Object:
    """The armature object with neck > head > (jaw, eye.L, eye.R) in rest pose."""
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    forward = np.array([0.0, 0.0, points.eye_radius * 1.5])  # canonical +Z = out of the face
    joints = {
        "neck": (points.neck, points.head, None),
        "head": (points.head, points.head_top, "neck"),
        "jaw": (points.jaw_hinge, points.chin, "head"),
        "eye.L": (points.eye_left, points.eye_left + forward, "head"),
        "eye.R": (points.eye_right, points.eye_right + forward, "head"),
    }
    view_layer = context.view_layer
    previous = view_layer.objects.active
    view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")  # edit bones exist only in edit mode
    try:
        for bone_name, (head, tail, parent) in joints.items():
            bone = data.edit_bones.new(bone_name)
            bone.head, bone.tail = to_blender(head), to_blender(tail)
            bone.roll = 0.0
            if parent:
                bone.parent = data.edit_bones[parent]
                bone.use_connect = bone_name == "head"
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous
    for bone in obj.pose.bones:
        bone.rotation_mode = "XYZ"  # mapping rows rotate one axis each
    return obj


def _skin(obj: bpy.types.Object, armature: bpy.types.Object, weights: dict[str, np.ndarray]) -> None:
    """Vertex groups from per-vertex weights, an Armature modifier, and parent to the armature."""
    for group_name, w in weights.items():
        group = obj.vertex_groups.new(name=group_name)
        for value in np.unique(np.round(w[w > 1e-4], 3)):  # one add() per distinct weight
            group.add(np.flatnonzero(np.isclose(np.round(w, 3), value)).tolist(), float(value), "REPLACE")
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    obj.parent = armature


def _material(name: str, colour: tuple[float, float, float, float]) -> bpy.types.Material:
    material = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    material.diffuse_color = colour  # Workbench and the viewport use this colour
    return material


def build_demo_head(context: bpy.types.Context, face: CanonicalFace, name: str = DEMO_NAME) -> DemoHead:
    """Create the demo character at the 3D cursor in the active collection."""
    collection = context.collection or context.scene.collection
    points = rig_points(face)
    armature = _build_armature(context, collection, points, f"{name}Rig")
    armature.location = context.scene.cursor.location

    face_obj = bpy.data.objects.new(name, face_mesh(name, face))
    collection.objects.link(face_obj)
    face_obj.data.materials.append(_material("FaceMocapSkin", (0.8, 0.62, 0.52, 1.0)))
    face_obj.data.materials.append(_material("FaceMocapMouth", (0.12, 0.03, 0.03, 1.0)))
    _add_shape_keys(face_obj, face)
    jaw = jaw_weights(face)
    _skin(face_obj, armature, {"head": 1.0 - jaw, "jaw": jaw})

    eyes = bpy.data.objects.new(f"{name}Eyes", _eyes_mesh(f"{name}Eyes", points))
    collection.objects.link(eyes)
    left = _paint_eyes(eyes.data, to_blender(np.stack([points.eye_left, points.eye_right])))
    _skin(eyes, armature, {"eye.L": left.astype(float), "eye.R": (~left).astype(float)})
    return DemoHead(armature=armature, face=face_obj, eyes=eyes)


def drive_demo_head(scene: bpy.types.Scene, head: DemoHead, as_character: bool = False) -> str:
    """Make the demo head the capture target (or, as_character, one more character following the
    next person) and fill its mapping tables; return what was done."""
    from . import presets  # the mapping glue; imported late so a missing preset never blocks the mesh
    from .panels_characters import add_character

    if as_character:  # beside the heads already there, not inside them
        bpy.context.view_layer.update()
        head.armature.location.x += 1.5 * head.face.dimensions.x * (len(scene.face_mocap.characters) + 1)
        add_character(scene, head.face, head.armature, head.face.name)
    else:
        settings = scene.face_mocap
        settings.target_mesh, settings.target_armature = head.face, head.armature
    try:
        rows = presets.load_preset(scene, DEMO_PRESET, head.face, head.armature)
        return rpt_("preset '{preset}' ({rows} rows)").format(preset=DEMO_PRESET, rows=rows)
    except MappingError:
        pass  # no dedicated preset: the names follow ARKit and common bone names
    mapped, _unmapped = presets.auto_detect(scene, head.face, head.armature)
    return rpt_("auto-detected mapping ({targets} targets)").format(targets=mapped)


class FACEMOCAP_OT_add_demo_head(bpy.types.Operator):
    """Add a head built from MediaPipe's canonical face, with 52 ARKit shape keys and a head/jaw/eye rig"""

    bl_idname = "facemocap.add_demo_head"
    bl_label = "Add Demo Head"
    bl_options = {"REGISTER", "UNDO"}

    as_character: BoolProperty(name="As a Character", options={"SKIP_SAVE"},
                               description="Add it to More Characters, following the next person in view, "
                                           "instead of making it the targets")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode to add the demo head")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            face = load_canonical_face(model_file(context))
        except (ModelError, MappingError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        head = build_demo_head(context, face)
        try:
            mapping = drive_demo_head(context.scene, head, self.as_character)
        except MappingError as exc:
            mapping = rpt_("no mapping yet ({error})").format(error=exc)
            self.report({"WARNING"}, rpt_("Demo head added, but its mapping failed: {error}").format(error=exc))
        for obj in context.view_layer.objects.selected:
            obj.select_set(False)
        head.face.select_set(True)
        context.view_layer.objects.active = head.face
        self.report({"INFO"}, rpt_("Added {face} with 52 shape keys and {armature}; {mapping}").format(
            face=head.face.name, armature=head.armature.name, mapping=mapping))
        return {"FINISHED"}


def _menu_entry(self, _context: bpy.types.Context) -> None:
    self.layout.operator(FACEMOCAP_OT_add_demo_head.bl_idname, icon="MONKEY")


classes = (FACEMOCAP_OT_add_demo_head,)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.VIEW3D_MT_add.append(_menu_entry)  # Add > Add Demo Head, next to the other objects


def unregister() -> None:
    bpy.types.VIEW3D_MT_add.remove(_menu_entry)
    _unregister_classes()
