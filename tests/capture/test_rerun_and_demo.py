"""--rerun recordings and the astronaut demo clip with known motion."""

from __future__ import annotations

import collections

import numpy as np

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

    logged = {}  # frame_idx -> value, gathered over however many chunks the SDK cut
    for chunk in rerun.chunk.RrdReader(rrd).stream():
        if chunk.entity_path == "/blendshapes/0/jawOpen":
            batch = chunk.to_record_batch()
            for idx, value in zip(batch.column("frame_idx").to_pylist(), batch.column("Scalars:scalars").to_pylist()):
                logged[idx] = float(np.ravel(value)[0])
    jaw = read_take(out).blendshapes[:20, BLENDSHAPE_NAMES.index("jawOpen")]
    np.testing.assert_allclose([logged[i] for i in range(20)], jaw, atol=1e-6)
