"""Add Tracked Face Mesh: a canonical-topology mesh whose vertices follow a take's landmarks.

The motion is baked to a PC2 point cache next to the take and played by a Mesh Cache
modifier, so it scrubs like any animation and can drive a high-resolution head through
a Surface Deform modifier.
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy.props import EnumProperty

from ..capture.errors import ModelError
from ..capture.takes import TakeError, read_take
from ..mapping.canonical import load_canonical_face
from ..mapping.errors import MappingError
from ..mapping.tracked_mesh import resample_to_frames, take_landmarks_cm, write_pc2
from . import takes_io
from .bake import scene_fps
from .demo_head import face_mesh, to_blender
from .i18n import rpt_
from .operators_takes import take_poll
from .preferences import model_file

SPACE_ITEMS = [
    ("head", "Head (expression)", "Landmarks in head space: the face moves, the head stays (for Surface Deform)"),
    ("camera", "Camera (with head motion)", "Metric landmarks as seen by the camera, head motion included"),
]


class FACEMOCAP_OT_add_tracked_face_mesh(bpy.types.Operator):
    """Add a mesh whose vertices follow the selected take's tracked landmarks (point cache)"""

    bl_idname = "facemocap.add_tracked_face_mesh"
    bl_label = "Add Tracked Face Mesh"
    bl_options = {"REGISTER", "UNDO"}

    space: EnumProperty(name="Space", items=SPACE_ITEMS, default="head")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return take_poll(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        item = takes_io.active_take(scene)
        take_path = takes_io.resolve(item)
        try:
            take = read_take(take_path)
            face = load_canonical_face(model_file(context))
            points = take_landmarks_cm(take, face, self.space)
            samples = resample_to_frames(take.timestamps_us / 1e6, points, scene_fps(scene))
            blender_samples = to_blender(samples.reshape(-1, 3)).reshape(samples.shape)
            cache = write_pc2(take_path.with_suffix(f".{self.space}.pc2"), blender_samples)
        except (TakeError, ModelError, MappingError, OSError) as exc:
            self.report({"ERROR"}, rpt_("Add Tracked Face Mesh: {error}").format(error=exc))
            return {"CANCELLED"}
        obj = self._add_object(context, f"Tracked_{item.name}", face, blender_samples[0], cache)
        self.report({"INFO"}, rpt_("Added {mesh}: {frames} frames from take '{take}' in {cache}").format(
            mesh=obj.name, frames=len(samples), take=item.name, cache=cache.name))
        return {"FINISHED"}

    @staticmethod
    def _add_object(context, name: str, face, rest: np.ndarray, cache) -> bpy.types.Object:
        mesh = face_mesh(name, face, open_eyes=False)
        mesh.vertices.foreach_set("co", rest.astype(np.float32).ravel())  # rest = the first frame
        mesh.update()
        obj = bpy.data.objects.new(name, mesh)
        (context.collection or context.scene.collection).objects.link(obj)
        modifier = obj.modifiers.new("Tracked Landmarks", "MESH_CACHE")
        modifier.cache_format = "PC2"
        modifier.filepath = bpy.path.relpath(str(cache)) if bpy.data.filepath else str(cache)
        modifier.frame_start = context.scene.face_mocap.bake_start_frame
        return obj


classes = (FACEMOCAP_OT_add_tracked_face_mesh,)

register, unregister = bpy.utils.register_classes_factory(classes)
