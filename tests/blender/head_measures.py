"""Measures on the shared Live Link Face head (FBHead) for the shape-generation tests and benchmark."""

from __future__ import annotations

import bpy
import numpy as np


def rest_positions(obj: bpy.types.Object) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3)
    obj.data.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def boundary_vertices(mesh: bpy.types.Mesh) -> np.ndarray:
    """Indices of the vertices on open edges (the rims of the eye and mouth holes)."""
    edge_of_loop = np.empty(len(mesh.loops), int)
    mesh.loops.foreach_get("edge_index", edge_of_loop)
    uses = np.bincount(edge_of_loop, minlength=len(mesh.edges))
    pairs = np.empty(len(mesh.edges) * 2, int)
    mesh.edges.foreach_get("vertices", pairs)
    return np.unique(pairs.reshape(-1, 2)[uses == 1])


def lid_rims(obj: bpy.types.Object, side: str) -> tuple[np.ndarray, np.ndarray]:
    """The upper and lower lid rim vertices of one eye hole ('l' = the subject's left) near the
    middle of the eye, found from the head's eyelid marker empties."""
    to_local = obj.matrix_world.inverted()
    top = np.array((to_local @ bpy.data.objects[f"marker_eyelid_top.{side}"].matrix_world.translation)[:])
    bottom = np.array((to_local @ bpy.data.objects[f"marker_eyelid_bot.{side}"].matrix_world.translation)[:])
    centre = (top + bottom) / 2.0
    co = rest_positions(obj)
    rim = boundary_vertices(obj.data)
    rim = rim[np.linalg.norm(co[rim] - centre, axis=1) < 0.02]
    middle = rim[np.abs(co[rim, 0] - centre[0]) < 0.005]
    return middle[co[middle, 2] > centre[2]], middle[co[middle, 2] <= centre[2]]


def lid_gap(obj: bpy.types.Object, side: str, offsets: np.ndarray | None = None) -> float:
    """Height of the eye opening in its middle (upper rim minus lower rim), with offsets applied."""
    upper, lower = lid_rims(obj, side)
    co = rest_positions(obj) + (0.0 if offsets is None else offsets)
    return float(co[upper, 2].mean() - co[lower, 2].mean())
