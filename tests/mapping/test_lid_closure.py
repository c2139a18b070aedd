"""Blinks close the mesh's own eye holes, even where the landmarks sit off the rims."""

from __future__ import annotations

import numpy as np

from face_mocap.mapping import demo_face
from face_mocap.mapping.shape_transfer import fit_face, transfer_shapes


def rim(points: np.ndarray, per_segment: int = 6) -> np.ndarray:
    """Points along the polyline through `points` (sorted by x)."""
    p = points[np.argsort(points[:, 0])]
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)
    return np.concatenate([a + (b - a) * t[:, None] for a, b in zip(p[:-1], p[1:])] + [p[-1:]])


def head_with_eye_holes(face) -> tuple[np.ndarray, np.ndarray]:
    """The landmarks plus rims of both eye holes as another mesh would have them: the upper rim
    0.15 cm above the upper-lid landmarks (a lid with thickness), the lower one 0.05 cm below the
    lower-lid landmarks. (vertices, bool per vertex: on an open edge)."""
    v = face.vertices
    mirror = demo_face.mirror_map(v)
    rims = []
    for ids, shift in ((demo_face.EYE_UPPER_L, 0.15), (demo_face.EYE_LOWER_L, -0.05)):
        for side in (list(ids), [int(mirror[i]) for i in ids]):
            rims.append(rim(v[side]) + [0.0, shift, 0.0])
    vertices = np.concatenate([v, *rims])
    open_edges = np.zeros(len(vertices), bool)
    open_edges[len(v):] = True
    return vertices, open_edges


def rim_gap(vertices, open_edges, offsets, upper_ids, lower_ids) -> float:
    """Largest height between the rims along the middle of one eye."""
    after = vertices + offsets
    upper_rim = open_edges & (np.linalg.norm(vertices[:, None] - vertices[list(upper_ids)][None], axis=2).min(1) < 0.2)
    lower_rim = open_edges & (np.linalg.norm(vertices[:, None] - vertices[list(lower_ids)][None], axis=2).min(1) < 0.1)
    upper_rim &= vertices[:, 1] > vertices[list(upper_ids), 1].min()
    xs = np.linspace(*np.percentile(vertices[upper_rim, 0], [25, 75]), 9)
    top = np.interp(xs, *zip(*sorted(zip(after[upper_rim, 0], after[upper_rim, 1]))))
    bottom = np.interp(xs, *zip(*sorted(zip(after[lower_rim, 0], after[lower_rim, 1]))))
    return float((top - bottom).max())


def test_blink_closes_the_eye_holes_rims_that_lie_off_the_landmarks(canonical):
    vertices, open_edges = head_with_eye_holes(canonical)
    fit = fit_face(canonical, canonical.vertices.copy())
    upper, lower = demo_face.EYE_UPPER_L, demo_face.EYE_LOWER_L
    open_gap = rim_gap(vertices, open_edges, np.zeros_like(vertices), upper, lower)
    as_built = transfer_shapes(canonical, fit, vertices)["eyeBlinkLeft"]
    closed = transfer_shapes(canonical, fit, vertices, open_edges=open_edges)
    assert rim_gap(vertices, open_edges, as_built, upper, lower) > 0.1 * open_gap  # landmarks alone fall short
    assert abs(rim_gap(vertices, open_edges, closed["eyeBlinkLeft"], upper, lower)) < 0.1 * open_gap
    mirror = demo_face.mirror_map(canonical.vertices)
    right_upper, right_lower = [int(mirror[i]) for i in upper], [int(mirror[i]) for i in lower]
    assert abs(rim_gap(vertices, open_edges, closed["eyeBlinkRight"], right_upper, right_lower)) < 0.1 * open_gap
    assert np.array_equal(closed["jawOpen"], transfer_shapes(canonical, fit, vertices)["jawOpen"])  # blinks only


def test_a_mesh_without_eye_holes_keeps_the_blink_as_built(canonical):
    vertices, _ = head_with_eye_holes(canonical)
    fit = fit_face(canonical, canonical.vertices.copy())
    plain = transfer_shapes(canonical, fit, vertices)
    closed = transfer_shapes(canonical, fit, vertices, open_edges=np.zeros(len(vertices), bool))
    assert np.array_equal(plain["eyeBlinkLeft"], closed["eyeBlinkLeft"])
