"""Calibration: neutral capture on real footage (keeping the range), range of motion, response
curve, gain, clamp, JSON round trip, version 1 files converted."""

import json

import numpy as np
import pytest

from face_mocap.mapping import channels as ch
from face_mocap.mapping.calibration import Calibration, capture_neutral, observe_ranges
from face_mocap.mapping.errors import CalibrationError

YAW, BLINK_L, SMILE_L = (ch.CHANNEL_INDEX[n] for n in ("headYaw", "eyeBlinkLeft", "mouthSmileLeft"))
BLINKS = [ch.CHANNEL_INDEX["eyeBlinkLeft"], ch.CHANNEL_INDEX["eyeBlinkRight"]]


def _raw(dump, solver, canonical, cal=None):
    pose = solver.solve(dump["landmarks"], (int(dump["width"]), int(dump["height"])))
    cal = cal or Calibration()
    return pose, ch.compute_channels(pose, dump["blendshapes"], canonical, cal.neutral_rotation,
                                     cal.neutral_translation_cm)


def test_default_calibration_changes_only_the_blinks(mediapipe_dumps, solver, canonical):
    _, raw = _raw(mediapipe_dumps["pexels"], solver, canonical)
    out = Calibration().apply(raw)
    others = [i for i in range(ch.N_CHANNELS) if i not in BLINKS]
    np.testing.assert_array_equal(out[:, others], raw[:, others])
    assert not np.allclose(out[:, BLINKS], raw[:, BLINKS], equal_nan=True)  # the default eyeBlink response


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
    np.testing.assert_allclose(cal.apply(np.nanmean(raw, axis=0))[:52], 0.0, atol=1e-12)  # the neutral reads 0
    assert np.nanmin(out[:, :52]) >= 0.0  # no shape goes below 0
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
    assert np.nanpercentile(smile, 99) == pytest.approx(1.0, abs=1e-3)  # her broadest smile -> 1
    assert np.nanmax(smile) == 1.0  # beyond the observed top a shape holds at 1
    assert smile[0] == pytest.approx(0.0, abs=1e-9)  # neutral -> 0
    cal.set("mouthSmileLeft", gain=0.5, clamp=(0.0, 0.4))
    out = cal.apply(raw)
    assert np.nanmax(out[:, SMILE_L]) == pytest.approx(0.4)
    assert np.nanmin(out[:, SMILE_L]) >= 0.0
    cal.set("headYaw", gain=-2.0)
    np.testing.assert_allclose(cal.apply(raw)[:, YAW], -2.0 * raw[:, YAW])


def test_neutral_on_a_smiling_start_keeps_the_range(mediapipe_dumps, solver, canonical):
    """Pexels starts with mouthSmileLeft at 0.52 (a grimace); her broad smile later is 0.98 raw."""
    dump = mediapipe_dumps["pexels"]
    pose, raw = _raw(dump, solver, canonical)
    cal = capture_neutral(pose.rows(slice(0, 5)), raw[:5])
    out = cal.apply(raw)
    ceiling = float(np.nanmax(out[:, SMILE_L]))
    print(f"pexels: smile neutral {cal.channels['mouthSmileLeft'].offset:.2f}, ceiling after calibration "
          f"{ceiling:.3f} (subtracting the neutral alone: {np.nanmax(raw[:, SMILE_L]) - raw[:5, SMILE_L].mean():.3f})")
    assert ceiling >= 0.9
    assert np.nanmin(out[:, :52]) >= 0.0
    angles = [ch.CHANNEL_INDEX[n] for n in ch.EYE_LEFT + ch.EYE_RIGHT + ch.JAW]
    np.testing.assert_allclose(out[:, angles], raw[:, angles] - raw[:5, angles].mean(axis=0))  # offset, not rescaled


def test_version_1_files_load_and_keep_the_range():
    old = {"format": "face_mocap.calibration", "version": 1, "neutral_rotation": None,
           "neutral_translation_cm": None,
           "channels": {"mouthSmileLeft": {"offset": 0.5, "gain": 1.0, "range": None, "clamp": None},
                        "eyeBlinkLeft": {"offset": 0.15, "gain": 1.0, "range": None, "clamp": None},
                        "jawOpen": {"offset": 0.1, "gain": 1.0, "range": [0.1, 0.6], "clamp": None},
                        "headPitch": {"offset": 0.2, "gain": 1.0, "range": None, "clamp": None}}}
    cal = Calibration.from_dict(old)
    row = np.zeros(ch.N_CHANNELS)
    for name, value in {"mouthSmileLeft": 1.0, "eyeBlinkLeft": 0.52, "jawOpen": 0.6, "headPitch": 0.5}.items():
        row[ch.CHANNEL_INDEX[name]] = value
    out = dict(zip(ch.CHANNEL_NAMES, cal.apply(row)))
    assert out["mouthSmileLeft"] == pytest.approx(1.0)  # v1 gave 0.5
    assert out["eyeBlinkLeft"] == pytest.approx(1.0)  # neutral kept, default response added
    assert cal.channels["eyeBlinkLeft"].range == (0.15, 0.52) and cal.channels["eyeBlinkLeft"].curve == 1.0
    assert out["jawOpen"] == pytest.approx(1.0)
    assert out["headPitch"] == pytest.approx(0.3)  # angles: offset only
    assert cal.to_dict()["version"] == 2


def test_response_curve_holds_both_ends():
    cal = Calibration()
    cal.set("jawOpen", range=(0.1, 0.5), curve=1.0)
    row = np.zeros((5, ch.N_CHANNELS))
    row[:, ch.CHANNEL_INDEX["jawOpen"]] = [0.0, 0.12, 0.3, 0.48, 0.9]
    jaw = cal.apply(row)[:, ch.CHANNEL_INDEX["jawOpen"]]
    np.testing.assert_allclose(jaw, [0.0, 0.00725, 0.5, 0.99275, 1.0], atol=1e-4)
    with pytest.raises(CalibrationError, match="curve"):
        cal.set("jawOpen", curve=2.0)


def test_range_of_motion_leaves_channels_that_never_moved(mediapipe_dumps, solver, canonical):
    pose, raw = _raw(mediapipe_dumps["single_face"], solver, canonical)
    cal = capture_neutral(pose.rows(slice(0, 5)), raw[:5])
    changed = observe_ranges(cal, raw)
    assert "mouthSmileLeft" in changed and "cheekPuff" not in changed  # cheekPuff never moves on footage
    assert np.nanmax(cal.apply(raw)[:, SMILE_L]) == pytest.approx(1.0)
    puff = cal.get("cheekPuff")
    assert puff.range == (puff.offset, 1.0)  # the neutral's, top untouched


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
