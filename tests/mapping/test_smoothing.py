"""Smoothing on real footage (jitter, lag, blinks) and on exact synthetic signals."""

import math

import numpy as np
import pytest

from face_mocap.mapping import channels as ch
from face_mocap.mapping import smoothing as sm
from face_mocap.mapping.errors import MappingError

HEAD = [ch.CHANNEL_INDEX[n] for n in ch.HEAD_ROTATION]
YAW = ch.CHANNEL_INDEX["headYaw"]
BLINKS = [ch.CHANNEL_INDEX["eyeBlinkLeft"], ch.CHANNEL_INDEX["eyeBlinkRight"]]


@pytest.fixture(scope="module")
def takes(mediapipe_dumps, solver, canonical):
    """name -> (timestamps in s, raw channels) for the still sitter and the Pexels clip."""
    out = {}
    for name in ("still", "pexels"):
        d = mediapipe_dumps[name]
        pose = solver.solve(d["landmarks"], (int(d["width"]), int(d["height"])))
        out[name] = d["timestamps_ms"] / 1000.0, ch.compute_channels(pose, d["blendshapes"], canonical)
    return out


def jitter(values):
    """Std of the second difference of head pitch/roll/yaw in degrees (mean of the three)."""
    return float(np.mean(np.std(np.diff(np.degrees(values[:, HEAD]), 2, axis=0), axis=0)))


def lag_frames(raw, smoothed):
    """Lag of smoothed behind raw at the cross-correlation peak, in frames."""
    a, b = raw - np.nanmean(raw), smoothed - np.nanmean(smoothed)
    lags = np.arange(-10, 11)
    corr = [np.nansum(a[max(0, -k):len(a) - max(0, k)] * b[max(0, k):len(b) - max(0, -k)]) for k in lags]
    return int(lags[int(np.argmax(corr))])


def blink_ratios(raw, smoothed):
    """Smoothed / raw peak height of every blink (each run of eyeBlink > 0.5), both eyes."""
    ratios = []
    for i in BLINKS:
        for start, stop in sm._runs(np.nan_to_num(raw[:, i]) > 0.5):
            ratios.append(np.nanmax(smoothed[start:stop + 2, i]) / np.nanmax(raw[start:stop, i]))
    return np.array(ratios)


def measure(takes, smooth):
    """(jitter ratio on the still sitter, yaw lag on Pexels, blink peak ratios on Pexels)."""
    t, raw = takes["still"]
    ratio = jitter(raw) / jitter(smooth(t, raw))
    t2, raw2 = takes["pexels"]
    smoothed = smooth(t2, raw2)
    return ratio, lag_frames(raw2[:, YAW], smoothed[:, YAW]), blink_ratios(raw2, smoothed)


def test_medium_live_meets_jitter_lag_and_blink_targets(takes):
    ratio, lag, blinks = measure(takes, lambda t, v: sm.smooth_live(t, v, "medium"))
    print(f"medium live: jitter ratio {ratio:.2f}x, yaw lag {lag} frames, "
          f"blink peaks kept min {blinks.min():.3f} mean {blinks.mean():.3f} over {len(blinks)} blinks")
    assert ratio >= 3.0
    assert 0 <= lag <= 1
    assert len(blinks) >= 5 and blinks.min() >= 0.9


def test_offline_zero_phase_removes_jitter_without_lag(takes):
    ratio, lag, blinks = measure(takes, lambda t, v: sm.zero_phase(t, v, "medium"))
    print(f"medium offline: jitter ratio {ratio:.2f}x, yaw lag {lag} frames, "
          f"blink peaks kept min {blinks.min():.3f} mean {blinks.mean():.3f}")
    assert ratio >= 3.0
    assert lag == 0
    assert len(blinks) >= 5 and blinks.min() >= 0.9


def test_presets_order_by_strength(takes):
    t, raw = takes["still"]
    j = [jitter(sm.smooth_live(t, raw, name)) for name in ("off", "light", "medium", "strong")]
    assert j[0] == pytest.approx(jitter(raw))
    assert j[0] > j[1] > j[2] > j[3]


def test_off_changes_nothing(takes):
    t, raw = takes["pexels"]
    np.testing.assert_array_equal(sm.smooth_live(t, raw, "off"), raw)
    np.testing.assert_array_equal(sm.zero_phase(t, raw, "off"), raw)


def test_unknown_preset_is_an_error():
    with pytest.raises(MappingError, match="unknown smoothing preset"):
        sm.preset("extreme")
    with pytest.raises(MappingError, match="unknown channel kind"):
        sm.preset("medium").with_kind("colour", sm.OneEuro())


def _one_channel_settings(params):
    return sm.SmoothingSettings(live={"shape": params, "rotation": None, "location": None})


def test_filter_is_driven_by_timestamps_not_frame_counts():
    # The same step response sampled at 30 and at 90 frames per second reaches the same
    # value at the same time: the filter follows real time.
    settings = _one_channel_settings(sm.OneEuro(min_cutoff=1.0, beta=0.0))
    idx = ch.CHANNEL_INDEX["jawOpen"]
    responses = {}
    for fps in (30, 90):
        t = np.arange(0, 1.0, 1.0 / fps)
        values = np.zeros((len(t), ch.N_CHANNELS))
        values[t >= 0.2, idx] = 1.0
        responses[fps] = np.interp([0.4, 0.6, 0.9], t, sm.smooth_live(t, values, settings)[:, idx])
    np.testing.assert_allclose(responses[30], responses[90], atol=0.06)
    assert 0.3 < responses[30][0] < responses[30][2] < 1.0
    # Irregular timestamps (a dropped frame) are handled the same way
    t = np.array([0.0, 0.1, 0.2, 0.5, 0.6])
    values = np.zeros((5, ch.N_CHANNELS))
    values[1:, idx] = 1.0
    out = sm.smooth_live(t, values, settings)[:, idx]
    gap = 1.0 / (1.0 + 1.0 / (2 * math.pi * 0.3))  # alpha for the 0.3 s step
    assert out[3] == pytest.approx(out[2] + gap * (1 - out[2]))


def test_rotations_are_smoothed_as_rotations():
    # Yaw hovering at +-180 degrees: averaging Euler angles would swing through 0.
    n = 60
    t = np.arange(n) / 30.0
    values = np.zeros((n, ch.N_CHANNELS))
    values[:, YAW] = np.radians(np.where(np.arange(n) % 2 == 0, 179.0, -179.0))
    values[:, ch.CHANNEL_INDEX["headPitch"]] = 0.3
    q0 = sm.quat_from_euler(np.array([0.3, 0.0, np.pi]))
    for out in (sm.smooth_live(t, values, "strong"), sm.zero_phase(t, values, "strong")):
        assert np.all(np.abs(np.degrees(out[:, YAW])) > 178.0)
        assert np.all(np.abs(sm.quat_from_euler(out[:, HEAD]) @ q0) > 0.999)  # same orientation


def test_no_value_passes_through_and_a_long_gap_restarts():
    settings = sm.preset("strong")
    idx = ch.CHANNEL_INDEX["mouthSmileLeft"]
    t = np.arange(40) / 30.0
    values = np.zeros((40, ch.N_CHANNELS))
    values[20:, :] = 1.0
    values[20:, :52] = 0.8
    values[10:20] = np.nan  # face lost for a third of a second... then longer
    t[20:] += 1.0  # ...the gap lasts over a second in real time
    out = sm.smooth_live(t, values, settings)
    assert np.isnan(out[10:20]).all()
    assert out[20, idx] == 0.8  # restarts at the new value instead of sliding from 0
    assert np.isfinite(out[20:]).all()
    offline = sm.zero_phase(t, values, settings)
    assert np.isnan(offline[10:20]).all() and np.isfinite(offline[20:]).all()


def test_time_running_backwards_restarts_and_repeats_hold():
    settings = sm.preset("strong")
    idx, yaw = ch.CHANNEL_INDEX["jawOpen"], YAW
    t = np.array([0.0, 1 / 30, 2 / 30, 2 / 30, 0.0])  # a repeated stamp, then a restarted source
    values = np.zeros((5, ch.N_CHANNELS))
    values[:, [idx, yaw]] = [[0, 0], [0, 0], [1, 0.5], [1, 0.5], [0.7, -0.2]]
    out = sm.smooth_live(t, values, settings)
    assert out[3, idx] == out[2, idx] and out[3, yaw] == out[2, yaw]
    assert out[4, idx] == 0.7 and out[4, yaw] == pytest.approx(-0.2)


def test_quaternion_euler_round_trip():
    e = np.random.default_rng(0).uniform(-1.4, 1.4, (100, 3))
    np.testing.assert_allclose(sm.euler_from_quat(sm.quat_from_euler(e)), e, atol=1e-12)
    # and it agrees with the channel module's matrices
    m = ch.matrix_from_euler_xyz(e)
    w, x, y, z = sm.quat_from_euler(e).T
    assert np.allclose(m[:, 1, 0], 2 * (x * y + w * z))
