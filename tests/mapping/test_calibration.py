"""Calibration: neutral capture on real footage, range, gain, clamp, JSON round trip."""

import json

import numpy as np
import pytest

from face_mocap.mapping import channels as ch
from face_mocap.mapping.calibration import Calibration, capture_neutral, observe_ranges
from face_mocap.mapping.errors import CalibrationError

YAW, BLINK_L, SMILE_L = (ch.CHANNEL_INDEX[n] for n in ("headYaw", "eyeBlinkLeft", "mouthSmileLeft"))


def _raw(dump, solver, canonical, cal=None):
    pose = solver.solve(dump["landmarks"], (int(dump["width"]), int(dump["height"])))
    cal = cal or Calibration()
    return pose, ch.compute_channels(pose, dump["blendshapes"], canonical, cal.neutral_rotation,
                                     cal.neutral_translation_cm)


def test_default_calibration_changes_nothing(mediapipe_dumps, solver, canonical):
    _, raw = _raw(mediapipe_dumps["pexels"], solver, canonical)
    np.testing.assert_array_equal(Calibration().apply(raw), raw)


def test_neutral_from_an_average_zeroes_the_still_sitter(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["still"]
    pose, raw = _raw(dump, solver, canonical)
    cal = capture_neutral(pose, raw)  # the whole still take as the neutral average
    _, rel = _raw(dump, solver, canonical, cal)
    out = cal.apply(rel)
    head = np.degrees(out[:, 52:55])
    assert np.abs(np.median(head, axis=0)).max() < 0.5  # degrees
    assert np.abs(head).max() < 5.0
    assert np.abs(out[:, 55:58]).max() < 0.03  # metres
    assert np.abs(np.nanmean(out[:, :52], axis=0)).max() < 1e-6  # neutral expression reads 0
    # Before calibration the sitter looks somewhat off-axis: calibration matters
    assert np.abs(np.degrees(raw[:, 52:55])).max() > 2.0 or np.abs(raw[:, 55:58]).max() > 0.1


def test_neutral_from_one_frame_makes_that_frame_zero(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["pexels"]
    pose, raw = _raw(dump, solver, canonical)
    frame = 200
    one = capture_neutral(_row(pose, frame), raw[frame])
    _, rel = _raw(dump, solver, canonical, one)
    out = one.apply(rel)
    np.testing.assert_allclose(out[frame, :ch.N_CHANNELS], 0.0, atol=1e-9)
    assert np.nanmax(np.abs(out[:, YAW])) > np.radians(5)  # the rest of the take still moves


def _row(pose, i):
    return pose.rows(slice(i, i + 1))


def test_neutral_without_a_face_is_refused(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["face_noface"]
    pose, raw = _raw(dump, solver, canonical)
    lost = np.flatnonzero(~dump["present"])[:5]
    with pytest.raises(CalibrationError, match="no face"):
        capture_neutral(_row(pose, lost[0]), raw[lost[0]])


def test_range_gain_and_clamp(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["pexels"]
    pose, raw = _raw(dump, solver, canonical)
    cal = capture_neutral(_row(pose, 0), raw[0])
    observe_ranges(cal, raw)
    out = cal.apply(raw)
    smile = out[:, SMILE_L]
    assert np.nanpercentile(smile, 99) == pytest.approx(1.0, abs=1e-6)  # her broadest smile -> 1
    assert smile[0] == pytest.approx(0.0, abs=1e-9)  # neutral -> 0
    cal.set("mouthSmileLeft", gain=0.5, clamp=(0.0, 0.4))
    out = cal.apply(raw)
    assert np.nanmax(out[:, SMILE_L]) == pytest.approx(0.4)
    assert np.nanmin(out[:, SMILE_L]) >= 0.0
    cal.set("headYaw", gain=-2.0)
    np.testing.assert_allclose(cal.apply(raw)[:, YAW], -2.0 * raw[:, YAW])


def test_no_value_stays_no_value(mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["face_noface"]
    _, raw = _raw(dump, solver, canonical)
    cal = Calibration()
    cal.set("eyeBlinkLeft", offset=0.1, clamp=(0.0, 1.0))
    out = cal.apply(raw)
    assert np.isnan(out[~dump["present"]]).all()


def test_json_round_trip(tmp_path, mediapipe_dumps, solver, canonical):
    dump = mediapipe_dumps["pexels"]
    pose, raw = _raw(dump, solver, canonical)
    cal = capture_neutral(_row(pose, 10), raw[10])
    observe_ranges(cal, raw, names=["eyeBlinkLeft", "jawOpen"])
    cal.set("headPitch", gain=1.5, clamp=(None, 0.6))
    path = tmp_path / "calibration.json"
    cal.save(path)
    back = Calibration.load(path)
    np.testing.assert_allclose(back.neutral_rotation, cal.neutral_rotation, atol=1e-12)
    np.testing.assert_array_equal(back.apply(raw), cal.apply(raw))
    assert back.to_dict() == cal.to_dict()
    assert json.loads(path.read_text())["format"] == "face_mocap.calibration"


@pytest.mark.parametrize("text, match", [
    ("{", "not valid JSON"),
    ('{"format": "other"}', "not a Face Mocap calibration"),
    ('{"format": "face_mocap.calibration", "version": 9}', "version"),
    ('{"format": "face_mocap.calibration", "version": 1, "channels": {"nope": {}}}', "unknown channel"),
    ('{"format": "face_mocap.calibration", "version": 1, "channels": {"jawOpen": {"range": [1, 0]}}}', "low < high"),
    ('{"format": "face_mocap.calibration", "version": 1, "neutral_rotation": [1, 2]}', "3x3"),
])
def test_malformed_calibration_is_a_clear_error(text, match):
    with pytest.raises(CalibrationError, match=match):
        Calibration.from_json(text)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CalibrationError, match="cannot read"):
        Calibration.load(tmp_path / "missing.json")
