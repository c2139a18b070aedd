"""--rerun recordings and the astronaut demo clip with known motion."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

from face_mocap.capture.protocol import BLENDSHAPE_NAMES
from face_mocap.capture.takes import read_take


def test_rerun_recording_has_the_face_tracking_layout(run_capture, facedata, tmp_path):
    rrd, out = tmp_path / "session.rrd", tmp_path / "t.fmtake"
    result = run_capture("--source", facedata / "grid/bbaf2n.mpg", "--max-frames", 20, "--out", out, "--rerun", rrd)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.rrd", "t.fmtake"]  # no .partial left

    import rerun.chunk

    rows, timelines, static = collections.Counter(), set(), set()
    for chunk in rerun.chunk.RrdReader(rrd).stream():
        rows[chunk.entity_path] += chunk.num_rows
        timelines |= set(chunk.timeline_names)
        if chunk.is_static:
            static.add(chunk.entity_path)
    assert {"time", "frame_idx"} <= timelines
    for entity in ("/video/image", "/video/landmarker/faces/0/2d", "/video/landmarker/faces/0/bbox",
                   "/reconstruction/faces/0"):
        assert rows[entity] == 20, entity
    assert {"/video/landmarker", "/reconstruction"} <= static  # the annotation contexts
    series = [e for e in rows if e.startswith("/blendshapes/0/")]
    assert sorted(series) == sorted(f"/blendshapes/0/{name}" for name in BLENDSHAPE_NAMES)

    chunk = next(c for c in rerun.chunk.RrdReader(rrd).stream() if c.entity_path == "/blendshapes/0/jawOpen")
    batch = chunk.to_record_batch()
    logged = np.concatenate([np.asarray(v, np.float64).ravel() for v in batch.column("Scalars:scalars").to_pylist()])
    np.testing.assert_allclose(logged, read_take(out).blendshapes[:20, BLENDSHAPE_NAMES.index("jawOpen")], atol=1e-6)


@pytest.fixture(scope="session")
def demo_clip(run_capture, tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    clip = folder / "astronaut.mp4"
    result = run_capture(clip, module="capture.synthetic")
    assert result.returncode == 0, result.stderr
    return clip, json.loads(clip.with_suffix(".json").read_text())


def test_demo_clip_has_known_motion_that_the_tracker_recovers(run_capture, demo_clip):
    clip, truth = demo_clip
    out = clip.with_suffix(".fmtake")
    result = run_capture("--source", clip, "--out", out)
    assert result.returncode == 0, result.stderr
    take = read_take(out)
    frames = truth["frames"]
    assert take.frame_count == len(frames) == 90 and truth["fps"] == 25
    assert take.face_found.all()
    # In-plane roll from MediaPipe's facial transform vs the roll that made the clip.
    rot = take.transforms[:, :3, :3]
    roll = np.degrees(np.arctan2(rot[:, 1, 0], rot[:, 0, 0]))
    true_roll = np.array([f["roll_deg"] for f in frames])
    error = np.abs((roll - roll[0]) - (true_roll - true_roll[0]))
    assert true_roll.max() - true_roll.min() > 30
    assert error.max() < 3.0, f"roll off by up to {error.max():.1f} degrees"
    # The nose follows the known shift (pixels -> normalised; rotation is about the face centre).
    nose = take.landmarks[:, 1, :2] * truth["size_px"]
    shift = np.array([f["shift_px"] for f in frames])
    moved = (nose - nose[0]) - (shift - shift[0])
    assert np.abs(moved).max() < 15, f"nose strays {np.abs(moved).max():.0f} px from the known shift"
