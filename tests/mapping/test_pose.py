"""Head pose against MediaPipe's own facial transformation matrix and exact ground truth."""

import math

import numpy as np
import pytest

from face_mocap.mapping.errors import PoseError
from face_mocap.mapping.pose import (PerspectiveCamera, PoseSolver, rotation_angle_deg,
                                     rotation_from_matrix, weighted_procrustes)


def _size(dump):
    return int(dump["width"]), int(dump["height"])


@pytest.mark.parametrize("clip", ["still", "pexels", "grid"])
def test_pose_agrees_with_mediapipe_matrix(mediapipe_dumps, solver, clip):
    dump = mediapipe_dumps[clip]
    found = dump["present"]
    assert found.sum() > 50
    pose = solver.solve(dump["landmarks"], _size(dump))
    np.testing.assert_array_equal(pose.present, found)
    rot, trans, scale = rotation_from_matrix(dump["matrices"][found])
    angle = rotation_angle_deg(rot, pose.rotation[found])
    shift = np.linalg.norm(trans - pose.translation[found], axis=1)
    print(f"{clip}: rotation diff median {np.median(angle):.2e} deg, p95 "
          f"{np.percentile(angle, 95):.2e} deg; translation diff median {np.median(shift):.2e} cm")
    assert np.median(angle) <= 0.05
    assert np.percentile(angle, 95) <= 0.2
    assert np.median(shift) <= 0.05
    np.testing.assert_allclose(pose.scale[found], scale, rtol=1e-3)
    np.testing.assert_allclose(pose.matrices()[found], dump["matrices"][found], atol=0.05)


def test_head_landmarks_are_close_to_the_canonical_face(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["still"]
    pose = solver.solve(dump["landmarks"], _size(dump))
    err = np.linalg.norm(pose.head_landmarks[:, :468] - canonical.vertices, axis=2)
    assert np.median(err) < 0.6  # cm: a real face differs from the canonical one a little


def test_in_plane_rotation_scale_and_shift_are_recovered(mediapipe_dumps, solver):
    dump = mediapipe_dumps["astronaut"]
    assert dump["present"].all(), "MediaPipe lost the astronaut's face in a generated image"
    width, height = _size(dump)
    pose = solver.solve(dump["landmarks"], (width, height))
    rel = pose.rotation @ pose.rotation[0].T  # relative to the unrotated image
    roll = np.degrees(np.arctan2(rel[:, 1, 0], rel[:, 0, 0]))  # about the camera's view axis
    err = np.abs(roll - dump["angle_deg"])[1:]
    print(f"astronaut: roll mean abs error {err.mean():.3f} deg, max {err.max():.3f} deg")
    assert err.mean() <= 1.0
    assert err.max() <= 2.0
    # A face scaled by s in the image is 1/s as far away
    depth_ratio = pose.translation[:, 2] / pose.translation[0, 2]
    np.testing.assert_allclose(depth_ratio, 1.0 / dump["scale"], rtol=0.04)
    # The head's origin projects where the warp moved it (pixels)
    focal = 0.5 * height / math.tan(math.radians(63.0) / 2)
    px = np.stack([width / 2 + focal * pose.translation[:, 0] / -pose.translation[:, 2],
                   height / 2 - focal * pose.translation[:, 1] / -pose.translation[:, 2]], 1)
    centre = np.array([width / 2, height / 2])
    ang = np.radians(dump["angle_deg"])
    offset = px[0] - centre
    expected = centre + dump["shift_px"] + dump["scale"][:, None] * np.stack(
        [np.cos(ang) * offset[0] + np.sin(ang) * offset[1],
         -np.sin(ang) * offset[0] + np.cos(ang) * offset[1]], 1)
    assert np.max(np.linalg.norm(px - expected, axis=1)) < 0.03 * width


def test_one_frame_and_a_whole_take_give_the_same_pose(mediapipe_dumps, solver):
    dump = mediapipe_dumps["pexels"]
    take = solver.solve(dump["landmarks"][:20], _size(dump))
    one = solver.solve(dump["landmarks"][7], _size(dump))
    np.testing.assert_allclose(one.rotation[0], take.rotation[7], atol=1e-12)
    np.testing.assert_allclose(one.translation[0], take.translation[7], atol=1e-9)


def test_frames_without_a_face_have_no_pose(mediapipe_dumps, solver):
    dump = mediapipe_dumps["face_noface"]
    found = dump["present"]
    assert found[:40].all() and found[-60:].sum() < 10  # the cartoon may fool it once
    pose = solver.solve(dump["landmarks"], _size(dump))
    assert np.isnan(pose.rotation[~found]).all() and np.isnan(pose.translation[~found]).all()
    assert np.isfinite(pose.translation[found]).all()


def test_a_collapsed_landmark_list_has_no_pose(solver):
    pose = solver.solve(np.full((478, 3), 0.5), (640, 480))
    assert not pose.present[0]


def test_camera_settings_change_the_metric_space(mediapipe_dumps, canonical):
    dump = mediapipe_dumps["still"]
    lm = dump["landmarks"][:5]
    wide = PoseSolver(canonical, PerspectiveCamera(vertical_fov_deg=90.0)).solve(lm, _size(dump))
    normal = PoseSolver(canonical).solve(lm, _size(dump))
    # A wider lens means the same image shows a closer face
    assert np.all(-wide.translation[:, 2] < -normal.translation[:, 2])
    # Landmarks given with a bottom-left origin describe the same head
    bottom_left = lm * [1, -1, 1] + [0, 1, 0]
    flipped = PoseSolver(canonical, PerspectiveCamera(origin_top_left=False)).solve(bottom_left, _size(dump))
    np.testing.assert_allclose(flipped.matrices(), normal.matrices(), atol=1e-9)


def test_bad_inputs_raise_pose_errors(solver):
    with pytest.raises(PoseError):
        PerspectiveCamera(vertical_fov_deg=180.0)
    with pytest.raises(PoseError):
        PerspectiveCamera(near=10.0, far=1.0)
    with pytest.raises(PoseError):
        solver.solve(np.zeros((10, 3)), (640, 480))
    with pytest.raises(PoseError):
        solver.solve(np.zeros((478, 3)), (0, 480))


def test_procrustes_recovers_an_exact_similarity(canonical):
    rng = np.random.default_rng(3)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    src = canonical.vertices[canonical.procrustes_ids]
    dst = 1.7 * src @ rot.T + [3.0, -2.0, -40.0]
    r, t, s = weighted_procrustes(src, dst[None], canonical.procrustes_weights)
    np.testing.assert_allclose(r[0], rot, atol=1e-10)
    np.testing.assert_allclose(t[0], [3.0, -2.0, -40.0], atol=1e-9)
    assert s[0] == pytest.approx(1.7)
