"""The demo head's shape keys: 52 distinct, local, mirrored deformations that do what their names say."""

from __future__ import annotations

import numpy as np
import pytest

from face_mocap.mapping import demo_face
from face_mocap.mapping.channels import ARKIT_NAMES


@pytest.fixture(scope="module")
def face(canonical):
    return canonical  # the tier's shared canonical face (tests/mapping/conftest.py), under a shorter name


@pytest.fixture(scope="module")
def shapes(face):
    return demo_face.build_shape_offsets(face)


def moved(offsets: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    return np.linalg.norm(offsets, axis=1) > threshold


def gap(face, shapes, name: str, upper: int, lower: int) -> float:
    v = face.vertices + shapes[name] if name else face.vertices
    return float(v[upper, 1] - v[lower, 1])


def test_all_52_arkit_shapes_in_order_each_moving_something(shapes, face):
    assert tuple(shapes) == ARKIT_NAMES and len(shapes) == 52
    for name, offsets in shapes.items():
        assert offsets.shape == face.vertices.shape and np.isfinite(offsets).all(), name
        assert moved(offsets).sum() >= 5, f"{name} barely moves anything"
        assert np.linalg.norm(offsets, axis=1).max() < 6.0, f"{name} tears the face apart"


def test_shapes_are_pairwise_distinct(shapes):
    names = list(shapes)
    flat = np.stack([shapes[n].ravel() for n in names])
    flat /= np.linalg.norm(flat, axis=1, keepdims=True)
    cos = flat @ flat.T
    np.fill_diagonal(cos, 0.0)
    i, j = np.unravel_index(np.argmax(cos), cos.shape)
    assert cos[i, j] < 0.95, f"{names[i]} and {names[j]} are nearly the same deformation"


def test_left_shapes_move_the_subjects_left_and_mirror_to_the_right(shapes, face):
    mirror = demo_face.mirror_map(face.vertices)
    x = face.vertices[:, 0]
    for name in ARKIT_NAMES:
        if not name.endswith("Left") or name in ("jawLeft", "mouthLeft"):
            continue
        left = shapes[name]
        weight = np.linalg.norm(left, axis=1)
        assert (weight * x).sum() > 0.5 * (weight * np.abs(x)).sum(), f"{name} is not on the subject's left (+X)"
        right = shapes[name.replace("Left", "Right")]
        np.testing.assert_allclose(right, demo_face.mirror_offsets(left, mirror), atol=1e-9)


def test_blink_closes_the_upper_lid_onto_the_lower_lid_of_that_eye_only(shapes, face):
    open_gap = gap(face, shapes, "", 386, 374)
    assert open_gap > 0.5
    assert abs(gap(face, shapes, "eyeBlinkLeft", 386, 374)) < 0.1 * open_gap
    assert gap(face, shapes, "eyeBlinkLeft", 159, 145) == pytest.approx(gap(face, shapes, "", 159, 145))
    assert gap(face, shapes, "eyeWideLeft", 386, 374) > open_gap


def test_jaw_open_drops_the_chin_and_opens_the_lips_about_the_hinge(shapes, face):
    opened = face.vertices + shapes["jawOpen"]
    assert opened[152, 1] < face.vertices[152, 1] - 1.5  # chin down by more than 1.5 cm
    assert gap(face, shapes, "jawOpen", 13, 14) > gap(face, shapes, "", 13, 14) + 2.0
    assert np.linalg.norm(shapes["jawOpen"][list(demo_face.LIPS_UPPER_OUTER)], axis=1).max() < 1e-6
    assert np.linalg.norm(shapes["jawOpen"][[10, 168, 1]], axis=1).max() < 1e-6  # forehead and nose stay
    closed = face.vertices + shapes["jawOpen"] + shapes["mouthClose"]
    assert abs(closed[13, 1] - closed[14, 1]) < gap(face, shapes, "", 13, 14) + 0.1


def test_smile_raises_and_widens_the_mouth_corner_frown_lowers_it(shapes):
    corner = demo_face.MOUTH_CORNER_L
    assert shapes["mouthSmileLeft"][corner, 1] > 0.3 and shapes["mouthSmileLeft"][corner, 0] > 0.2
    assert shapes["mouthFrownLeft"][corner, 1] < -0.3
    assert shapes["mouthSmileRight"][corner, 1] == pytest.approx(0.0, abs=0.05)


def test_brows_and_cheeks_move_in_their_regions(shapes, face):
    brow = list(demo_face.BROW_L)
    assert shapes["browDownLeft"][brow, 1].mean() < -0.2
    assert shapes["browOuterUpLeft"][list(demo_face.BROW_OUTER_L), 1].mean() > 0.3
    assert shapes["browInnerUp"][list(demo_face.BROW_INNER_L), 1].mean() > 0.3
    puff = shapes["cheekPuff"][list(demo_face.CHEEK_PUFF_L)]
    normals = demo_face._vertex_normals(face.vertices, face.triangles)[list(demo_face.CHEEK_PUFF_L)]
    assert (puff * normals).sum(axis=1).min() > 0.3  # outwards


def test_rig_points_sit_inside_the_head(face):
    points = demo_face.rig_points(face)
    v = face.vertices
    assert points.neck[1] < points.head[1] < points.jaw_hinge[1] < points.head_top[1]
    for eye, lids in ((points.eye_left, demo_face.EYE_UPPER_L), (points.eye_right, (159, 145))):
        assert np.linalg.norm(eye[:2] - v[list(lids), :2].mean(axis=0)) < 0.8
        assert eye[2] < v[list(lids), 2].min()  # behind the lids
    assert demo_face.eye_triangles(face).sum() == 28 and demo_face.mouth_triangles(face).sum() == 18
