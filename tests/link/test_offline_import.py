"""Import Video without Blender: the real capture process tracks a clip into a take; cancel
leaves nothing behind."""

from __future__ import annotations

import time

from link_fixtures import options_for  # noqa: F401 (fixture)
from process_scan import process_gone
from face_mocap.capture.takes import read_take
from face_mocap.link.offline_import import OfflineImport


def test_a_clip_becomes_a_take_with_progress(options_for, facedata, tmp_path):
    out = tmp_path / "takes" / "clip.fmtake"
    job = OfflineImport(options_for(str(facedata / "grid/bbaf2n.mpg"), realtime=False, import_processes=1), out)
    seen = []
    deadline = time.monotonic() + 120
    while not (progress := job.poll()).finished and time.monotonic() < deadline:
        seen.append((progress.done, progress.total))
        time.sleep(0.05)
    assert progress.finished and progress.error == ""
    take = read_take(out)
    assert take.frame_count == progress.total > 0
    done = [d for d, total in seen if total]
    assert done == sorted(done) and 0 < len(set(done))  # it said how far it was


def test_cancel_stops_the_process_and_leaves_nothing(options_for, facedata, tmp_path):
    out = tmp_path / "clip.fmtake"
    job = OfflineImport(options_for(str(facedata / "open_dbm/subj01_timepoint01.mp4"), realtime=False,
                                    import_processes=1), out)
    deadline = time.monotonic() + 120
    while not job.poll().done and time.monotonic() < deadline:  # tracking has started and writes
        time.sleep(0.05)
    job.cancel()
    assert process_gone(job.child.pid)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
