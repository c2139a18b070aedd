"""Blinks that close on any mesh with eye holes: each eyeBlink shape scaled along the eye so the
upper lid's rim meets the lower lid's rim on the mesh itself.

Landmarks found on a render sit a pixel or two off the lid rims, so a blink built on them alone
can stop short or overshoot. Here the gap is measured on the mesh: the rims are the vertices on
the open edges of the eye hole near each lid's landmarks; at each upper-rim vertex the blink is
scaled so that the vertex ends on the lower rim (as it is after the blink), and the factor is
interpolated along the eye. A mesh without eye holes keeps the blink as built.
Canonical frame (cm, +Y up); numpy only.
"""

from __future__ import annotations

import numpy as np

from .demo_face import EYE_CORNERS_L, EYE_LOWER_L, EYE_UPPER_L, _smoothstep

RIM_CM = 0.6  # open-edge vertices this close to a lid's landmarks make up its rim (lids have thickness)
TOUCH_CM = 0.02  # a closed eye: the rims this far apart (touching, never through each other)
MAX_SCALE = 3.0  # a blink is scaled by at most this (or at least its inverse) anywhere
REACH_CM = 2.5  # the scaling fades out this far above the upper lid (the brow keeps its motion)


def eyes(mirror: np.ndarray) -> list[tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """(blink shape, upper lid, lower lid, corners) of the subject's left and right eye."""
    left = (EYE_UPPER_L, EYE_LOWER_L, EYE_CORNERS_L)
    right = tuple(tuple(int(mirror[i]) for i in ids) for ids in left)
    return [("eyeBlinkLeft", *left), ("eyeBlinkRight", *right)]


def _nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return np.linalg.norm(points[:, None, :] - targets[None, :, :], axis=2).min(axis=1)


def above_eye_line(vertices: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """True for the vertices above the line between the lids (the upper lid's side)."""
    line = 0.5 * (upper + lower)
    order = np.argsort(line[:, 0])
    return vertices[:, 1] > np.interp(vertices[:, 0], line[order, 0], line[order, 1])


def rim_scales(offsets: np.ndarray, vertices: np.ndarray, open_edges: np.ndarray, upper: np.ndarray,
               lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, factor) for each upper-rim vertex: how much the blink must be scaled there for that vertex
    to end on the lower rim (its height after the blink, interpolated along the eye). Empty when the
    mesh has no rim at this eye. `open_edges`: the vertices on open edges."""
    above = above_eye_line(vertices, upper, lower)
    top = np.flatnonzero(open_edges & above & (_nearest(vertices, upper) < RIM_CM))
    bottom = np.flatnonzero(open_edges & ~above & (_nearest(vertices, lower) < RIM_CM))
    top = top[-offsets[top, 1] > 1e-6]  # rim vertices the blink moves down
    if len(top) == 0 or len(bottom) < 2:
        return np.empty(0), np.empty(0)
    after = vertices[:, 1] + offsets[:, 1]
    order = bottom[np.argsort(vertices[bottom, 0])]
    floor = np.interp(vertices[top, 0], vertices[order, 0], after[order]) + TOUCH_CM
    drop = -offsets[top, 1]
    scales = np.clip((drop + after[top] - floor) / drop, 1.0 / MAX_SCALE, MAX_SCALE)
    return vertices[top, 0], scales


def close_lids(shapes: dict[str, np.ndarray], vertices: np.ndarray, open_edges: np.ndarray,
               landmarks: np.ndarray, mirror: np.ndarray) -> dict[str, np.ndarray]:
    """The shapes with each eyeBlink scaled, column by column, so the lids' rims on the mesh meet.
    `shapes` are offsets of `vertices`, all in the canonical frame (cm); `open_edges` (bool per
    vertex) marks the vertices on open edges (the rims of the mesh's holes)."""
    out = dict(shapes)
    for name, upper_ids, lower_ids, corners in eyes(mirror):
        upper, lower = landmarks[list(upper_ids)], landmarks[list(lower_ids)]
        rim_x, scales = rim_scales(shapes[name], vertices, open_edges, upper, lower)
        if not len(rim_x):
            continue  # no eye hole: the blink stays as built on the landmarks
        xs = np.concatenate([rim_x, landmarks[list(corners), 0]])
        values = np.concatenate([scales, np.ones(2)])  # no scaling at the corners
        order = np.argsort(xs)
        scale = np.interp(vertices[:, 0], xs[order], values[order], left=1.0, right=1.0)
        height = upper[:, 1].min()
        reach = _smoothstep((height + REACH_CM - vertices[:, 1]) / REACH_CM)  # 1 at the lid, 0 at the brow
        weight = np.where(above_eye_line(vertices, upper, lower), reach, 0.0)
        out[name] = shapes[name] * (1.0 + (scale - 1.0) * weight)[:, None]
    return out
