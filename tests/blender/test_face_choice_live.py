"""A live capture with a person in the background records and drives the performer only (real
capture process, two faces per frame, a video composited with OpenCV from shared footage)."""

from __future__ import annotations

import json
import subprocess

import bpy
import numpy as np

from face_mocap.capture.face_choice import FaceBox
from face_mocap.capture.takes import read_take
from face_mocap.ui import live, takes_io
from live_scene import make_rig, run_timer_until, use_video

MAKE_VIDEO = """
import json, sys
sys.path[:0] = [sys.argv[1] + "/tests", sys.argv[1] + "/tests/capture"]
import conftest  # noqa: F401 (makes `face_mocap` this checkout)
from pathlib import Path
from test_face_choice_import import ENTERS, HIDDEN, INSET, composite_video
composite_video(Path(sys.argv[2]), Path(sys.argv[3]))
print(json.dumps({"inset": INSET, "enters": ENTERS, "hidden": list(HIDDEN)}))
"""  # run in the capture interpreter (OpenCV); the composite of tests/capture/test_face_choice_import.py


def test_live_capture_records_the_performer_not_the_person_behind(addon, facedata, capture_python, repo_root,
                                                                   tmp_path):
    video = tmp_path / "two_faces.avi"
    made = subprocess.run([capture_python, "-c", MAKE_VIDEO, str(repo_root), str(facedata),
                           str(video)], check=True, timeout=120, capture_output=True, text=True)
    layout = json.loads(made.stdout.strip().splitlines()[-1])
    make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    use_video(video, realtime=False)
    bpy.context.scene.face_mocap.num_faces = 2
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    assert bpy.ops.facemocap.record() == {"FINISHED"}
    run_timer_until(lambda: not live.is_running() or live.session().poll().frames_recorded >= 160, 60.0)
    if live.is_running():
        bpy.ops.facemocap.stop_recording()
        bpy.ops.facemocap.stop_capture()
    take = read_take(takes_io.resolve(bpy.context.scene.face_mocap.takes[0]))
    w, h = take.image_size
    x0, y0, x1, y1 = layout["inset"]
    stamps = (take.timestamps_us - take.timestamps_us[0]) / 1e6
    frame = np.rint(stamps * 24.0).astype(int)  # the composite is written at 24 fps
    hidden = np.isin(frame, layout["hidden"])
    boxes = [FaceBox.of(take.landmarks[i], w, h) for i in np.flatnonzero(take.face_found)]
    behind = [b for b in boxes if x0 <= b.x <= x1 and y0 <= b.y <= y1]
    print(f"live two-face capture: {take.frame_count} frames recorded, {int((frame >= layout['enters']).sum())} with the "
          f"person behind in view, performer in {len(boxes)}, person behind recorded in {len(behind)}, "
          f"covered frames with a face: {int(take.face_found[hidden].sum())} of {int(hidden.sum())}")
    assert take.frame_count >= 150 and not behind
    assert not take.face_found[hidden].any()
