"""Where MediaPipe's face landmarks sit on a mesh: a front render, the capture process, rays back.

The mesh is rendered headless with Workbench by an orthographic camera looking along the
object's +Y (Blender's front view), the capture process finds the landmarks on that image
(`python -m capture --source IMAGE --out TAKE`), and a ray from each landmark's pixel along the
view finds its point on the mesh (object-local coordinates).
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix, Vector
from mathutils.bvhtree import BVHTree

from ..link.options import CaptureOptions
from ..link.still_landmarks import first_face
from ..mapping.canonical import N_VERTICES
from ..mapping.shape_transfer import FaceFitError
from . import preferences

try:
    from bpy.app.translations import pgettext_rpt as rpt_
except ImportError:  # Blender 4.2
    from bpy.app.translations import pgettext_tip as rpt_

RENDER_PX = 512  # the longer side of the render: MediaPipe looks for faces at 128 px and reads them at 192-256
MARGIN = 1.08  # framing margin around the mesh
FACE_MIN_FRACTION = 0.45  # a face smaller than this part of the image is rendered again, closer
FACE_MARGIN = 1.6  # a closer view frames the landmarks' box this much larger (forehead, chin, ears)
TOP_CROPS = 3  # no face in the whole view: try its top half, quarter and eighth


@dataclass(frozen=True)
class FrontView:
    """An orthographic front view: pixel (normalised) <-> world."""

    matrix: Matrix  # camera to world (rotation + camera position; the camera looks down its -Z)
    width: float  # world units across the image
    height: float
    pixels: tuple[int, int]

    def ray(self, x: float, y: float) -> tuple[Vector, Vector]:
        """World origin and direction of the ray through normalised image point (x right, y down)."""
        local = Vector(((x - 0.5) * self.width, (0.5 - y) * self.height, 0.0))
        return self.matrix @ local, (self.matrix.to_3x3() @ Vector((0.0, 0.0, -1.0))).normalized()


def front_basis(obj: bpy.types.Object) -> Matrix:
    """Rotation of a camera in front of the object: looking along its +Y, its +Z up."""
    rot = obj.matrix_world.to_3x3().normalized()
    forward, up = rot @ Vector((0.0, 1.0, 0.0)), rot @ Vector((0.0, 0.0, 1.0))
    right = forward.cross(up)
    return Matrix((right, up, -forward)).transposed()  # columns: camera X, Y, Z


def frame_view(obj: bpy.types.Object, points: np.ndarray | None = None) -> FrontView:
    """The view that frames the object's mesh (or the given world points) from the front."""
    basis = front_basis(obj)
    if points is None:
        mesh = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
        local = np.empty(len(mesh.vertices) * 3)
        mesh.vertices.foreach_get("co", local)
        obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh_clear()
        mw = np.array(obj.matrix_world)
        points = local.reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]
    cam = points @ np.array(basis)  # coordinates along the camera's axes
    lo, hi = cam.min(axis=0), cam.max(axis=0)
    centre = (lo + hi) / 2.0
    width, height = (hi[:2] - lo[:2]) * MARGIN
    side = max(width, height, 1e-6)
    width, height = max(width, side * 0.5), max(height, side * 0.5)
    px = (RENDER_PX, max(64, round(RENDER_PX * height / width))) if width >= height else \
        (max(64, round(RENDER_PX * width / height)), RENDER_PX)
    depth = hi[2] - lo[2]
    position = Vector(basis @ Vector((centre[0], centre[1], hi[2] + 0.1 * depth + 1e-3)))
    matrix = Matrix.Translation(position) @ basis.to_4x4()
    return FrontView(matrix, float(width), float(height), px)


@contextlib.contextmanager
def front_scene(view: FrontView, objects: list[bpy.types.Object], pixels: tuple[int, int] | None = None):
    """A temporary scene with only the objects and an orthographic camera on `view`, set up for a
    Workbench render (removed afterwards); yields the scene."""
    scene = bpy.data.scenes.new("FaceMocapFrontRender")
    camera_data = bpy.data.cameras.new("FaceMocapFrontCamera")
    camera = bpy.data.objects.new("FaceMocapFrontCamera", camera_data)
    world = bpy.data.worlds.new("FaceMocapFrontWorld")
    try:
        for obj in objects:
            scene.collection.objects.link(obj)
        scene.collection.objects.link(camera)
        camera_data.type = "ORTHO"
        camera_data.ortho_scale = max(view.width, view.height)
        camera_data.sensor_fit = "AUTO"
        camera_data.clip_start = 1e-4 * camera_data.ortho_scale
        camera_data.clip_end = 100.0 * camera_data.ortho_scale
        camera.matrix_world = view.matrix
        scene.camera = camera
        world.color = (0.05, 0.05, 0.05)
        scene.world = world
        scene.render.engine = "BLENDER_WORKBENCH"
        scene.display.shading.light = "STUDIO"
        scene.display.shading.color_type = "SINGLE"
        scene.display.shading.show_cavity = True
        scene.display.render_aa = "FXAA"  # a quarter of the default 8 samples' time; MediaPipe sees no difference
        scene.render.resolution_x, scene.render.resolution_y = pixels or view.pixels
        scene.render.resolution_percentage = 100
        scene.render.film_transparent = False
        scene.render.image_settings.file_format = "PNG"
        yield scene
    finally:
        bpy.data.objects.remove(camera)
        bpy.data.cameras.remove(camera_data)
        bpy.data.scenes.remove(scene)
        bpy.data.worlds.remove(world)


def render_still(scene: bpy.types.Scene, path: Path) -> None:
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True, scene=scene.name)


def render_view(view: FrontView, objects: list[bpy.types.Object], path: Path) -> None:
    """Render the objects alone by Workbench into a PNG."""
    with front_scene(view, objects) as scene:
        render_still(scene, path)


def detect_landmarks(context: bpy.types.Context, source: Path, work: Path) -> tuple[int, np.ndarray] | None:
    """(index, its 478 normalised landmarks) of the first image where MediaPipe finds a face in
    `source` (an image, or a folder of images by name), or None; the capture process as the
    preferences set it, with MediaPipe's defaults (one face, never mirrored: a render is no selfie)."""
    interpreter, python_path = preferences.capture_python(context)
    options = CaptureOptions(source=str(source), interpreter=interpreter, python_path=python_path,
                             env=preferences.capture_env(context), model=preferences.model_override(context))
    return first_face(options, work / "landmarks.fmtake")


def cast_landmarks(obj: bpy.types.Object, view: FrontView, landmarks: np.ndarray) -> np.ndarray:
    """(468, 3) object-local points where each landmark's ray meets the mesh; NaN where it misses."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    bvh = BVHTree.FromObject(obj, depsgraph)
    to_local = obj.matrix_world.inverted()
    to_local_dir = to_local.to_3x3()
    points = np.full((N_VERTICES, 3), np.nan)
    for i, (x, y, _z) in enumerate(landmarks[:N_VERTICES]):
        origin, direction = view.ray(x, y)
        hit, _normal, _index, _dist = bvh.ray_cast(to_local @ origin, (to_local_dir @ direction).normalized())
        if hit is not None:
            points[i] = hit[:]
    return points


def snap_to_surface(obj: bpy.types.Object, points: np.ndarray) -> np.ndarray:
    """Each object-local point moved to the nearest point of the mesh surface."""
    bvh = BVHTree.FromObject(obj, bpy.context.evaluated_depsgraph_get())
    out = points.copy()
    for i, p in enumerate(points):
        hit, _normal, _index, _dist = bvh.find_nearest(Vector(p))
        if hit is not None:
            out[i] = hit[:]
    return out


def top_views(view: FrontView) -> list[FrontView]:
    """Closer views of the top of a view (a head sits on top of a body): the top half, quarter and
    eighth of its height, as wide as high where the view allows, all the same pixel size."""
    views = []
    for k in range(1, TOP_CROPS + 1):
        height = view.height / 2 ** k
        width = min(view.width, height)
        shift = Matrix.Translation((0.0, 0.5 * (view.height - height), 0.0))
        views.append(FrontView(view.matrix @ shift, width, height,
                               (round(RENDER_PX * width / height), RENDER_PX)))
    return views


def closer_view(view: FrontView, landmarks: np.ndarray) -> FrontView:
    """A view framing the face found on `view` (its landmarks' box, with a margin)."""
    lo, hi = landmarks[:, :2].min(axis=0), landmarks[:, :2].max(axis=0)
    centre = 0.5 * (lo + hi)
    width, height = (hi - lo) * np.array([view.width, view.height]) * FACE_MARGIN
    side = max(width, height)
    shift = Matrix.Translation(((centre[0] - 0.5) * view.width, (0.5 - centre[1]) * view.height, 0.0))
    return FrontView(view.matrix @ shift, side, side, (RENDER_PX, RENDER_PX))


def look(context: bpy.types.Context, views: list[FrontView], objects: list[bpy.types.Object],
         folder: Path) -> tuple[FrontView, np.ndarray] | None:
    """Render the views into `folder` and run the capture process once on them all: the first
    view with a face and its landmarks, or None."""
    folder.mkdir()
    for i, view in enumerate(views):
        render_view(view, objects, folder / f"{i:02d}.png")
    found = detect_landmarks(context, folder, folder.parent)
    return None if found is None else (views[found[0]], found[1])


def find_on_mesh(context: bpy.types.Context, obj: bpy.types.Object,
                 companions: list[bpy.types.Object]) -> np.ndarray:
    """(468, 3) object-local landmark points on the mesh (NaN: off the mesh); FaceFitError when
    MediaPipe finds no face on front renders of the whole mesh and of its top."""
    objects = [obj, *companions]
    whole = frame_view(obj)
    with tempfile.TemporaryDirectory(prefix="face_mocap_landmarks_") as tmp:
        work = Path(tmp)
        found = look(context, [whole], objects, work / "whole") or look(context, top_views(whole), objects,
                                                                         work / "top")
        if found is None:
            raise FaceFitError(rpt_(
                "No face found on a front render of {}: the face must look along the object's -Y axis "
                "(Blender's front view). For a stylised face, place guide empties (see the operator's "
                "description) and run it again").format(obj.name))
        view, landmarks = found
        extent = landmarks[:, :2].max(axis=0) - landmarks[:, :2].min(axis=0)
        if max(extent) < FACE_MIN_FRACTION:  # a small face: look again, closer
            found = look(context, [closer_view(view, landmarks)], objects, work / "closer") or found
            view, landmarks = found
        return cast_landmarks(obj, view, landmarks)
