"""Measures on the shared Live Link Face head (FBHead) for the shape-generation tests and benchmark."""

from __future__ import annotations

import bpy
import numpy as np

from face_mocap.ui.generate_shapes import open_edge_vertices


def rest_positions(obj: bpy.types.Object) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3)
    obj.data.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def lid_rims(obj: bpy.types.Object, side: str) -> tuple[np.ndarray, np.ndarray]:
    """The upper and lower lid rim vertices of one eye hole ('l' = the subject's left) near the
    middle of the eye, found from the head's eyelid marker empties."""
    to_local = obj.matrix_world.inverted()
    top = np.array((to_local @ bpy.data.objects[f"marker_eyelid_top.{side}"].matrix_world.translation)[:])
    bottom = np.array((to_local @ bpy.data.objects[f"marker_eyelid_bot.{side}"].matrix_world.translation)[:])
    centre = (top + bottom) / 2.0
    co = rest_positions(obj)
    rim = np.flatnonzero(open_edge_vertices(obj.data))
    rim = rim[np.linalg.norm(co[rim] - centre, axis=1) < 0.02]
    middle = rim[np.abs(co[rim, 0] - centre[0]) < 0.005]
    return middle[co[middle, 2] > centre[2]], middle[co[middle, 2] <= centre[2]]


def lid_gap(obj: bpy.types.Object, side: str, offsets: np.ndarray | None = None) -> float:
    """Height of the eye opening in its middle (upper rim minus lower rim), with offsets applied."""
    upper, lower = lid_rims(obj, side)
    co = rest_positions(obj) + (0.0 if offsets is None else offsets)
    return float(co[upper, 2].mean() - co[lower, 2].mean())


def eye_opening(obj: bpy.types.Object, side: str, shape: str = "", step: float = 1e-4) -> float:
    """Height of the see-through gap between the lids of one eye, seen from the front (rays along
    +Y, the head's own axes) in the middle of the eye, with the shape key `shape` at 1 (none: rest)."""
    from mathutils.bvhtree import BVHTree

    blocks = obj.data.shape_keys.key_blocks if obj.data.shape_keys else []
    saved = [key.value for key in blocks]
    for key in list(blocks)[1:]:
        key.value = 1.0 if key.name == shape else 0.0
    try:
        depsgraph = bpy.context.evaluated_depsgraph_get()
        depsgraph.update()
        tree = BVHTree.FromObject(obj, depsgraph)
        to_local = obj.matrix_world.inverted()
        top = to_local @ bpy.data.objects[f"marker_eyelid_top.{side}"].matrix_world.translation
        bottom = to_local @ bpy.data.objects[f"marker_eyelid_bot.{side}"].matrix_world.translation
        heights = np.arange(bottom.z - 0.01, top.z + 0.01, step)
        widest = 0.0
        for x in (top.x - 0.003, top.x, top.x + 0.003):
            misses = [tree.ray_cast((x, -1.0, z), (0.0, 1.0, 0.0))[0] is None for z in heights]
            widest = max(widest, step * sum(misses))
        return widest
    finally:
        for key, value in zip(blocks, saved):
            key.value = value
