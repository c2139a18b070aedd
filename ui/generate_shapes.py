"""Generate ARKit Shape Keys: the 52 expressions made for the selected head mesh in one click."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from bpy.props import StringProperty
from mathutils.kdtree import KDTree

from ..capture.errors import ModelError
from ..mapping.canonical import CanonicalFace, load_canonical_face
from ..mapping.channels import ARKIT_NAMES
from ..mapping.errors import MappingError
from ..mapping.shape_transfer import (FaceFitError, FaceFit, fit_face, jaw_shapes, transfer_shapes,
                                      with_points)
from ..link.errors import SessionError
from .face_landmarks import find_on_mesh, rpt_, snap_to_surface
from .preferences import model_file
from .shape_preview import write_preview

GUIDE_PREFIX = "FaceGuide."
# Guide empty name suffix -> canonical landmark (subject's left = .L).
GUIDES = {"eye_inner.L": 362, "eye_outer.L": 263, "eye_inner.R": 133, "eye_outer.R": 33,
          "mouth.L": 291, "mouth.R": 61, "nose_tip": 1, "chin": 152}
MIN_GUIDES = 4
JAW_FOLLOWERS = ("teeth", "tooth", "tongue", "jaw")  # companion meshes that follow the jaw
SYMMETRY_TOLERANCE = 1e-4  # of the mesh size: a vertex's mirror image must be this close


def base_positions(obj: bpy.types.Object) -> np.ndarray:
    """The mesh's rest vertex positions (its Basis shape key when it has one)."""
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    if mesh.shape_keys is not None:
        mesh.shape_keys.reference_key.data.foreach_get("co", co)
    else:
        mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3).astype(np.float64)


def open_edge_vertices(mesh: bpy.types.Mesh) -> np.ndarray:
    """Bool per vertex: on an edge used by a single face (the rims of the mesh's holes: eyes, mouth)."""
    edge_of_loop = np.empty(len(mesh.loops), int)
    mesh.loops.foreach_get("edge_index", edge_of_loop)
    uses = np.bincount(edge_of_loop, minlength=len(mesh.edges))
    pairs = np.empty(len(mesh.edges) * 2, int)
    mesh.edges.foreach_get("vertices", pairs)
    rim = np.zeros(len(mesh.vertices), bool)
    rim[pairs.reshape(-1, 2)[uses == 1]] = True
    return rim


def mirror_map(vertices: np.ndarray) -> np.ndarray | None:
    """Each vertex's mirror image across the object's X = 0 plane, or None when the mesh is not symmetric."""
    tree = KDTree(len(vertices))
    for i, v in enumerate(vertices):
        tree.insert(v, i)
    tree.balance()
    tolerance = SYMMETRY_TOLERANCE * float(np.ptp(vertices, axis=0).max())
    mirror = np.empty(len(vertices), int)
    for i, (x, y, z) in enumerate(vertices):
        _co, index, dist = tree.find((-x, y, z))
        if dist > tolerance:
            return None
        mirror[i] = index
    return mirror


def guide_points(obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    """Object-local positions and canonical ids of the guide empties (FaceGuide.eye_inner.L, ...)."""
    to_local = obj.matrix_world.inverted()
    points, ids = [], []
    for suffix, landmark in GUIDES.items():
        guide = bpy.data.objects.get(GUIDE_PREFIX + suffix)
        if guide is not None:
            points.append((to_local @ guide.matrix_world.translation)[:])
            ids.append(landmark)
    return np.array(points, np.float64).reshape(-1, 3), np.array(ids, int)


def locate_face(context: bpy.types.Context, face: CanonicalFace, obj: bpy.types.Object,
                companions: list[bpy.types.Object]) -> tuple[FaceFit, str]:
    """The canonical face fitted to the mesh, and from what: guide empties when there are enough,
    else MediaPipe on a front render; landmarks off the mesh are snapped onto its surface."""
    points, ids = guide_points(obj)
    if len(ids) >= MIN_GUIDES:
        fit = fit_face(face, points, ids, rounds=1)
        return with_points(fit, snap_to_surface(obj, fit.points)), rpt_("fitted to {} guide empties").format(len(ids))
    fit = fit_face(face, find_on_mesh(context, obj, companions))
    points = np.where(fit.found[:, None], fit.points, snap_to_surface(obj, fit.points))
    return with_points(fit, points), rpt_("{} of 468 landmarks found on the mesh").format(int(fit.found.sum()))


def write_shape_keys(obj: bpy.types.Object, base: np.ndarray, shapes: dict[str, np.ndarray]) -> int:
    """Add (or overwrite) one shape key per shape, relative to the Basis; return how many were new."""
    if obj.data.shape_keys is None:
        obj.shape_key_add(name="Basis", from_mix=False)
    blocks = obj.data.shape_keys.key_blocks
    reference = obj.data.shape_keys.reference_key
    added = 0
    for name, offsets in shapes.items():
        key = blocks.get(name)
        if key is None:
            key = obj.shape_key_add(name=name, from_mix=False)
            key.value = 0.0  # Blender 5 starts a new key at 1
            added += 1
        key.relative_key = reference
        key.data.foreach_set("co", (base + offsets).astype(np.float32).ravel())
    obj.data.update()
    return added


def jaw_followers(companions: list[bpy.types.Object]) -> list[bpy.types.Object]:
    """The companion meshes that move with the jaw (teeth, tongue), by name."""
    return [c for c in companions if any(word in c.name.lower() for word in JAW_FOLLOWERS)]


def generate(context: bpy.types.Context, obj: bpy.types.Object, companions: list[bpy.types.Object]) -> str:
    """Make the 52 keys on `obj` (and the jaw keys on teeth/tongue companions); return what was done."""
    face = load_canonical_face(model_file(context))
    fit, source = locate_face(context, face, obj, companions)
    base = base_positions(obj)
    shapes = transfer_shapes(face, fit, base, mirror_map(base), open_edges=open_edge_vertices(obj.data))
    added = write_shape_keys(obj, base, shapes)
    followers = jaw_followers(companions)
    for other in followers:
        other_base = base_positions(other)
        world = other_base @ np.array(other.matrix_world)[:3, :3].T + np.array(other.matrix_world)[:3, 3]
        to_head = np.array(obj.matrix_world.inverted())
        in_head = world @ to_head[:3, :3].T + to_head[:3, 3]
        keys = jaw_shapes(face, fit, in_head, whole="tongue" in other.name.lower())
        back = np.array(other.matrix_world.inverted().to_3x3() @ obj.matrix_world.to_3x3())
        write_shape_keys(other, other_base, {name: d @ back.T for name, d in keys.items()})
    message = rpt_("{} shape keys on {} ({} new), {}").format(len(shapes), obj.name, added, source)
    if followers:
        message += rpt_("; jaw keys on {}").format(", ".join(o.name for o in followers))
    return message


def auto_map(context: bpy.types.Context, obj: bpy.types.Object) -> str:
    """Make the mesh the capture target (when there is none) and auto-detect its mapping."""
    settings = context.scene.face_mocap
    if settings.target_mesh not in (None, obj):
        return rpt_("; the scene's target mesh stays {} (pick {} and Auto-detect to drive it)").format(
            settings.target_mesh.name, obj.name)
    settings.target_mesh = obj
    try:
        bpy.ops.facemocap.auto_detect_mapping()
    except RuntimeError as exc:
        return rpt_("; mapping not detected ({})").format(exc)
    return rpt_("; mapping auto-detected")


class FACEMOCAP_OT_generate_shape_keys(bpy.types.Operator):
    """Make the 52 ARKit shape keys for the active head mesh (face looking along -Y): MediaPipe finds the
    face on a front render. Without a face it can find, add empties named FaceGuide.eye_inner.L/.R,
    FaceGuide.eye_outer.L/.R, FaceGuide.mouth.L/.R, FaceGuide.nose_tip and FaceGuide.chin on the face.
    Other selected meshes named teeth or tongue get jaw keys"""

    bl_idname = "facemocap.generate_shape_keys"
    bl_label = "Generate ARKit Shape Keys"
    bl_options = {"REGISTER", "UNDO"}

    preview_path: StringProperty(
        name="Preview", subtype="FILE_PATH", default="", options={"SKIP_SAVE"},  # not remembered for the next click
        description="Also write a PNG here: a front render of the head with each new shape key at 1")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        if obj is None or obj.type != "MESH":
            cls.poll_message_set("Select the head mesh (make it the active object)")
            return False
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode to generate shape keys")
            return False
        if obj.data.library is not None or obj.data.override_library is not None:
            cls.poll_message_set("The mesh is linked from another file: make it local to add shape keys")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = context.active_object
        companions = [o for o in context.selected_objects if o.type == "MESH" and o is not obj]
        try:
            message = generate(context, obj, companions)
        except (FaceFitError, SessionError, ModelError, MappingError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        message += auto_map(context, obj)
        if self.preview_path:
            path = write_preview(obj, jaw_followers(companions), ["Basis", *ARKIT_NAMES],
                                 Path(bpy.path.abspath(self.preview_path)))
            message += rpt_("; preview written to {}").format(path)
        self.report({"INFO"}, message)
        return {"FINISHED"}


classes = (FACEMOCAP_OT_generate_shape_keys,)
register, unregister = bpy.utils.register_classes_factory(classes)
