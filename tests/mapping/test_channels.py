"""Channels from real MediaPipe output: names, signs, units, and no-face handling."""

import numpy as np
import pytest

from face_mocap.capture.protocol import BLENDSHAPE_NAMES
from face_mocap.mapping import channels as ch


def _compute(dump, solver, canonical, **neutral):
    pose = solver.solve(dump["landmarks"], (int(dump["width"]), int(dump["height"])))
    return ch.compute_channels(pose, dump["blendshapes"], canonical, **neutral)


def _corr(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    return np.corrcoef(a[ok], b[ok])[0, 1]


def test_channel_names_are_stable_and_arkit():
    assert len(ch.ARKIT_NAMES) == 52 and "_neutral" not in ch.ARKIT_NAMES
    assert ch.ARKIT_NAMES[-1] == "tongueOut"
    assert set(ch.ARKIT_NAMES) == set(BLENDSHAPE_NAMES[1:]) | {"tongueOut"}
    assert ch.CHANNEL_NAMES[52:] == ("headPitch", "headRoll", "headYaw", "headX", "headY", "headZ",
                                     "eyeLeftPitch", "eyeLeftYaw", "eyeRightPitch", "eyeRightYaw",
                                     "jawAngle")
    assert len(set(ch.CHANNEL_NAMES)) == ch.N_CHANNELS


def test_shapes_keep_mediapipe_scores_by_name(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["pexels"]
    values = _compute(dump, solver, canonical)
    for mp_index, name in enumerate(BLENDSHAPE_NAMES[1:], start=1):
        np.testing.assert_allclose(values[:, ch.CHANNEL_INDEX[name]], dump["blendshapes"][:, mp_index],
                                   rtol=1e-6)
    assert np.all(values[:, ch.CHANNEL_INDEX["tongueOut"]] == 0.0)


def test_head_angle_signs_follow_the_image(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["pexels"]
    values = _compute(dump, solver, canonical)
    lm = dump["landmarks"]
    # Turning to the subject's left moves the nose toward image right (+x)
    nose_x = lm[:, 4, 0] - 0.5 * (lm[:, 234, 0] + lm[:, 454, 0])
    assert _corr(values[:, ch.CHANNEL_INDEX["headYaw"]], nose_x) > 0.9
    # Nodding down moves the nose tip down in the image relative to the eyes (+y)
    nose_y = lm[:, 4, 1] - 0.5 * (lm[:, 33, 1] + lm[:, 263, 1])
    assert _corr(values[:, ch.CHANNEL_INDEX["headPitch"]], nose_y) > 0.8
    yaw = np.degrees(values[:, ch.CHANNEL_INDEX["headYaw"]])
    assert 10 < np.nanmax(yaw) - np.nanmin(yaw) < 90  # she turns her head, in degrees not radians


def test_head_roll_matches_known_image_rotation(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["astronaut"]
    pose = solver.solve(dump["landmarks"], (int(dump["width"]), int(dump["height"])))
    values = ch.compute_channels(pose, dump["blendshapes"], canonical,
                                 neutral_rotation=pose.rotation[0],
                                 neutral_translation_cm=pose.translation[0])
    # A counter-clockwise image rotation tilts the head toward the subject's right shoulder
    roll = np.degrees(values[:, ch.CHANNEL_INDEX["headRoll"]])
    assert np.mean(np.abs(roll + dump["angle_deg"])) < 1.0
    # Relative to the first image as neutral: zero there; a face made smaller is farther (+Y)
    np.testing.assert_allclose(values[0, 52:58], 0.0, atol=1e-9)
    farther = dump["scale"] < 0.95
    assert np.all(values[farther, ch.CHANNEL_INDEX["headY"]] > 0.03)  # metres


def test_gaze_follows_the_eye_look_scores(mediapipe_dumps, solver, canonical):
    values = _compute(mediapipe_dumps["pexels"], solver, canonical)
    v = {name: values[:, i] for i, name in enumerate(ch.CHANNEL_NAMES)}
    assert _corr(v["eyeLeftYaw"], v["eyeLookOutLeft"] - v["eyeLookInLeft"]) > 0.8
    assert _corr(v["eyeRightYaw"], v["eyeLookInRight"] - v["eyeLookOutRight"]) > 0.8
    assert _corr(v["eyeLeftPitch"], v["eyeLookDownLeft"] - v["eyeLookUpLeft"]) > 0.8
    assert _corr(v["eyeRightPitch"], v["eyeLookDownRight"] - v["eyeLookUpRight"]) > 0.8
    assert np.nanmax(np.abs(v["eyeLeftYaw"])) < np.radians(45)


def test_jaw_angle_follows_speech(mediapipe_dumps, solver, canonical):
    values = _compute(mediapipe_dumps["grid"], solver, canonical)
    jaw = values[:, ch.CHANNEL_INDEX["jawAngle"]]
    assert _corr(jaw, values[:, ch.CHANNEL_INDEX["jawOpen"]]) > 0.8
    assert 2 < np.degrees(np.nanmax(jaw) - np.nanmin(jaw)) < 30


LOOKING_INTO_THE_LENS = ("grid", "grid_lwbsza", "grid_swiz3n", "single_face", "face_noface")  # first 20 frames


@pytest.mark.parametrize("name", LOOKING_INTO_THE_LENS)
def test_eyes_looking_into_the_lens_read_level_without_calibration(name, mediapipe_dumps, solver, canonical):
    """Eye pitch + head pitch is the gaze's pitch from the camera axis: about 0 into the lens."""
    values = _compute(mediapipe_dumps[name], solver, canonical)[:20]
    head = values[:, ch.CHANNEL_INDEX["headPitch"]]
    for eye in ("eyeLeftPitch", "eyeRightPitch"):
        gaze = np.degrees(np.nanmedian(values[:, ch.CHANNEL_INDEX[eye]] + head))
        print(f"{name} {eye} + headPitch: {gaze:.1f} degrees")
        assert abs(gaze) < 2.0


@pytest.mark.parametrize("name", ["still", "grid", "grid_lwbsza", "single_face", "face_noface", "pexels"])
def test_closed_lips_read_a_closed_jaw_without_calibration(name, mediapipe_dumps, solver, canonical):
    values = _compute(mediapipe_dumps[name], solver, canonical)
    closed = values[:, ch.CHANNEL_INDEX["jawOpen"]] < 0.05
    jaw = np.degrees(np.nanmedian(values[closed, ch.CHANNEL_INDEX["jawAngle"]]))
    print(f"{name}: jawAngle with closed lips {jaw:.1f} degrees over {closed.sum()} frames")
    assert closed.sum() >= 5 and abs(jaw) < 2.0


def test_no_face_means_no_value_not_zero(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["face_noface"]
    values = _compute(dump, solver, canonical)
    lost = ~dump["present"]
    assert lost.any()
    assert np.isnan(values[lost]).all()
    assert np.isfinite(values[~lost]).all()


def test_one_frame_equals_the_take_row(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["still"]
    size = (int(dump["width"]), int(dump["height"]))
    take = ch.compute_channels(solver.solve(dump["landmarks"], size), dump["blendshapes"], canonical)
    one = ch.compute_channels(solver.solve(dump["landmarks"][30], size), dump["blendshapes"][30], canonical)
    np.testing.assert_allclose(one[0], take[30], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_euler_round_trip(seed):
    e = np.random.default_rng(seed).uniform(-1.2, 1.2, (50, 3))
    np.testing.assert_allclose(ch.euler_xyz_from_matrix(ch.matrix_from_euler_xyz(e)), e, atol=1e-12)


def test_merge_fills_channels_by_name():
    base = np.full((3, ch.N_CHANNELS), np.nan)
    merged = ch.merge_channels(base, ["headYaw", "unknown"], np.array([[0.1, 5], [np.nan, 5], [0.3, 5]]))
    np.testing.assert_array_equal(merged[:, ch.CHANNEL_INDEX["headYaw"]], [0.1, np.nan, 0.3])
