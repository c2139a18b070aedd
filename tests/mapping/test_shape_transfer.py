"""The demo expressions carried onto other heads: fit, spreading, mouth and lid splits, symmetry, falloff."""

from __future__ import annotations

import numpy as np
import pytest

from face_mocap.mapping import demo_face, shape_transfer
from face_mocap.mapping.channels import ARKIT_NAMES
from face_mocap.mapping.shape_transfer import FaceFitError, fit_face, transfer_shapes


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return rz @ ry @ rx


# A head in Blender's habit: metres, facing -Y, Z up (canonical +Z out of the face -> -Y), off the origin.
TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
SCALE, SHIFT = 0.011, np.array([0.3, -0.2, 1.6])


def to_head(points: np.ndarray, rot: np.ndarray = np.eye(3)) -> np.ndarray:
    return SCALE * points @ (rot @ TO_BLENDER).T + SHIFT


def dense_head(face) -> np.ndarray:
    """The canonical face sampled 4x denser (landmarks + three points inside each triangle), canonical cm."""
    tri = face.vertices[face.triangles]
    inside = [np.einsum("tkc,k->tc", tri, w) for w in ((1 / 3, 1 / 3, 1 / 3), (0.6, 0.2, 0.2), (0.2, 0.6, 0.2))]
    return np.concatenate([face.vertices, *inside])


def test_fit_recovers_the_head_placement_despite_misses_and_stray_rays(canonical):
    rot = rotation(0.3, -0.2, 0.1)
    points = to_head(canonical.vertices, rot)
    rng = np.random.default_rng(1)
    points[rng.choice(468, 60, replace=False)] = np.nan  # rays through the eye holes
    stray = rng.choice(np.flatnonzero(np.isfinite(points[:, 0])), 30, replace=False)
    points[stray] += np.array([0.0, 0.05, 0.0])  # rays that grazed the silhouette and hit 5 cm behind
    fit = fit_face(canonical, points)
    assert fit.scale == pytest.approx(SCALE, rel=1e-6)
    np.testing.assert_allclose(fit.rotation, rot @ TO_BLENDER, atol=1e-6)
    np.testing.assert_allclose(fit.translation, SHIFT, atol=1e-7)
    assert not fit.found[stray].any() and fit.found.sum() == 468 - 60 - 30
    np.testing.assert_allclose(fit.points, to_head(canonical.vertices, rot), atol=1e-7)


def test_too_few_landmarks_on_the_mesh_is_a_clear_error(canonical):
    points = np.full((468, 3), np.nan)
    points[:20] = canonical.vertices[:20]
    with pytest.raises(FaceFitError, match="only 20 face landmarks lie on the mesh"):
        fit_face(canonical, points)


def test_on_the_canonical_face_itself_the_demo_expressions_come_back(canonical):
    fit = fit_face(canonical, canonical.vertices.copy())
    shapes = transfer_shapes(canonical, fit, canonical.vertices)
    demo = demo_face.build_shape_offsets(canonical)
    assert list(shapes) == list(ARKIT_NAMES)
    for name in ARKIT_NAMES:
        a, b = shapes[name].ravel(), demo[name].ravel()
        assert a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.97, name


def test_a_moved_turned_scaled_head_gets_the_same_shapes_moved_turned_scaled(canonical):
    verts = dense_head(canonical)
    plain = transfer_shapes(canonical, fit_face(canonical, canonical.vertices.copy()), verts)
    rot = rotation(-0.4, 0.25, 0.15)
    head = transfer_shapes(canonical, fit_face(canonical, to_head(canonical.vertices, rot)), to_head(verts, rot))
    for name in ARKIT_NAMES:
        np.testing.assert_allclose(head[name], SCALE * plain[name] @ (rot @ TO_BLENDER).T, atol=1e-9)


def test_jaw_open_moves_the_lower_lip_and_chin_never_the_upper_lip(canonical):
    verts = dense_head(canonical)
    fit = fit_face(canonical, canonical.vertices.copy())
    jaw = transfer_shapes(canonical, fit, verts)["jawOpen"]
    below = demo_face.below_mouth_line(canonical.vertices, verts)
    near_mouth = np.linalg.norm(verts[:, :2] - canonical.vertices[[13, 14]].mean(axis=0)[:2], axis=1) < 2.5
    between_corners = np.abs(verts[:, 0]) < 1.5  # the corners themselves open halfway
    upper, lower = near_mouth & between_corners & (below == 0.0), near_mouth & (below == 1.0)
    assert upper.sum() > 20 and lower.sum() > 20
    assert jaw[lower, 1].mean() < -1.0  # the lower lip drops by more than a cm
    assert np.linalg.norm(jaw[upper], axis=1).max() < 0.03 * -jaw[lower, 1].mean()  # the upper lip stays
    assert jaw[152, 1] < -1.5  # and so does the chin


def test_blink_closes_a_wider_eye_on_another_head(canonical):
    landmarks = canonical.vertices.copy()
    landmarks[list(demo_face.EYE_UPPER_L)] += [0.0, 0.3, 0.0]  # this head's left eye opens wider
    fit = fit_face(canonical, landmarks)
    blink = transfer_shapes(canonical, fit, landmarks)["eyeBlinkLeft"]
    closed = fit.points + blink
    open_gap = landmarks[386, 1] - landmarks[374, 1]
    assert abs(closed[386, 1] - closed[374, 1]) < 0.1 * open_gap
    assert np.linalg.norm(blink[list(demo_face.EYE_LOWER_L)], axis=1).max() < 0.05 * open_gap


def symmetric_dense_head(face) -> tuple[np.ndarray, np.ndarray]:
    """The landmarks plus points inside the triangles and their mirror images; and each point's mirror."""
    tri = face.vertices[face.triangles]
    inside = np.concatenate([np.einsum("tkc,k->tc", tri, w) for w in ((1 / 3, 1 / 3, 1 / 3), (0.6, 0.2, 0.2))])
    verts = np.concatenate([face.vertices, inside, inside * [-1.0, 1.0, 1.0]])
    n, k = len(face.vertices), len(inside)
    mirror = np.concatenate([demo_face.mirror_map(face.vertices), np.arange(n + k, n + 2 * k), np.arange(n, n + k)])
    return verts, mirror


def test_symmetric_mesh_gets_exactly_mirrored_shapes(canonical):
    verts, mirror = symmetric_dense_head(canonical)
    noisy = canonical.vertices + np.random.default_rng(3).normal(0.0, 0.05, (468, 3))  # landmarks found with noise
    shapes = transfer_shapes(canonical, fit_face(canonical, noisy), verts, vertex_mirror=mirror)
    flip = np.array([-1.0, 1.0, 1.0])
    for name in ARKIT_NAMES:
        if name.endswith("Left"):
            np.testing.assert_allclose(shapes[name.replace("Left", "Right")], shapes[name][mirror] * flip, atol=1e-12)
        elif not name.endswith("Right"):
            np.testing.assert_allclose(shapes[name], shapes[name][mirror] * flip, atol=1e-12)


def test_back_of_the_head_ears_and_neck_stay_still(canonical):
    fit = fit_face(canonical, canonical.vertices.copy())
    far = np.array([[0.0, 2.0, -12.0], [10.0, 0.0, -6.0], [-10.0, 0.0, -6.0], [0.0, -15.0, -4.0]])  # back, ears, neck
    nearest = np.linalg.norm(far[:, None] - canonical.vertices[None], axis=2).min(axis=1)
    assert nearest.min() > shape_transfer.FADE_END_CM
    shapes = transfer_shapes(canonical, fit, far)
    assert max(np.abs(d).max() for d in shapes.values()) == 0.0


def test_teeth_follow_the_jaw_and_upper_teeth_stay(canonical):
    fit = fit_face(canonical, canonical.vertices.copy())
    mouth = canonical.vertices[[13, 14]].mean(axis=0)
    teeth = np.array([mouth + [0.0, -0.4, -0.8], mouth + [0.0, 0.4, -0.8]])  # lower, upper incisors
    keys = shape_transfer.jaw_shapes(canonical, fit, teeth)
    assert keys["jawOpen"][0, 1] < -1.0 and np.abs(keys["jawOpen"][1]).max() == 0.0
    tongue = shape_transfer.jaw_shapes(canonical, fit, teeth, whole=True)
    assert (tongue["jawOpen"][:, 1] < -0.5).all()
    assert keys["jawRight"][0, 0] == pytest.approx(-keys["jawLeft"][0, 0])
