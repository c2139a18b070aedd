"""Where MediaPipe's face landmarks sit on a mesh: a front render, the capture process, rays back.

The mesh is rendered headless with Workbench by an orthographic camera looking along the
object's +Y (Blender's front view), the capture process finds the landmarks on that image
(`python -m capture --source IMAGE --out TAKE`), and a ray from each landmark's pixel along the
view finds its point on the mesh (object-local coordinates).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix, Vector
from mathutils.bvhtree import BVHTree

from ..capture.take_read import read_take
from ..mapping.canonical import N_VERTICES
from ..mapping.shape_transfer import FaceFitError
from . import preferences
from .bundled_layout import popen_options
from .child import child_environment

RENDER_PX = 512  # the longer side of the render: MediaPipe looks for faces at 128 px and reads them at 192-256
MARGIN = 1.08  # framing margin around the mesh
CAPTURE_TIMEOUT_S = 120.0
FACE_MIN_FRACTION = 0.45  # a face narrower than this part of the image is rendered again, closer


class CaptureFailed(RuntimeError):
    """The capture process could not look at the render (interpreter, model)."""


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


def detect_landmarks(context: bpy.types.Context, image: Path, work: Path) -> np.ndarray | None:
    """The 478 normalised landmarks MediaPipe finds on the image, or None when it finds no face."""
    interpreter, python_path = preferences.capture_python(context)
    take = work / "landmarks.fmtake"
    args = [interpreter, "-m", "capture", "--source", str(image), "--out", str(take), "--progress", "none"]
    model = preferences.model_override(context)
    if model:
        args += ["--model", model]
    env = child_environment(None, python_path, preferences.capture_env(context))
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=CAPTURE_TIMEOUT_S,
                              **popen_options(os.name))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CaptureFailed(f"The capture process could not run: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise CaptureFailed(lines[-1] if lines else f"the capture process failed (exit code {done.returncode})")
    result = read_take(take)
    if not result.frame_count or not result.face_found[0]:
        return None
    return np.asarray(result.landmarks[0], np.float64)


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


def find_on_mesh(context: bpy.types.Context, obj: bpy.types.Object,
                 companions: list[bpy.types.Object]) -> np.ndarray:
    """(468, 3) object-local landmark points on the mesh (NaN: off the mesh); FaceFitError when
    MediaPipe finds no face on the front render."""
    view = frame_view(obj)
    with tempfile.TemporaryDirectory(prefix="face_mocap_landmarks_") as tmp:
        work = Path(tmp)
        for attempt in range(2):
            image = work / f"front_{attempt}.png"
            render_view(view, [obj, *companions], image)
            landmarks = detect_landmarks(context, image, work)
            if landmarks is None:
                raise FaceFitError(
                    f"No face found on a front render of {obj.name}: the face must look along the object's "
                    "-Y axis (Blender's front view). For a stylised face, place guide empties "
                    "(see the operator's description) and run it again")
            lo, hi = landmarks[:, :2].min(axis=0), landmarks[:, :2].max(axis=0)
            if attempt or max(hi - lo) >= FACE_MIN_FRACTION:
                break
            corners = [view.ray(x, y)[0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])]
            close = frame_view(obj, np.array([c[:] for c in corners]))
            view = FrontView(close.matrix, close.width * 1.25, close.height * 1.25, close.pixels)
        return cast_landmarks(obj, view, landmarks)
