"""Keep Capture Ready: a real capture process waits in standby (model loaded, no source open) for Start Capture."""

from __future__ import annotations

import os
import signal

import bpy

from face_mocap.link import ready
from face_mocap.ui import keep_ready, live
from live_scene import ADDON_ID, make_rig, process_gone, run_timer_until, wait_for
from process_scan import open_files


def standby_pid() -> int:
    """The process kept ready, once its model is loaded (Status 'standby')."""
    keep_ready.keep_capture_ready(bpy.context)
    pid = ready.pid()
    assert pid is not None, "no process was kept ready"
    assert wait_for(ready.loaded, 60), "its model never loaded"
    return pid


def frames_arrive() -> bool:
    return run_timer_until(lambda: live.session() is not None and live.session().poll().frames_received >= 5, 30)


def test_start_capture_takes_the_process_kept_ready_which_opened_no_source_before(kept_ready):
    pid = standby_pid()
    assert not [name for name in open_files(pid) if name.endswith(".mp4") or name.startswith("/dev/video")]

    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    assert live.session().child.pid == pid and ready.pid() is None  # taken, not copied
    assert frames_arrive()
    assert kept_ready in open_files(pid)  # the video opened on Start: the check above would have seen it

    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}
    assert wait_for(lambda: process_gone(pid), 5.0)
    assert ready.pid() not in (None, pid)  # the next one waits for the next Start Capture


def test_other_mediapipe_options_start_a_process_of_their_own(kept_ready):
    pid = standby_pid()
    bpy.context.scene.face_mocap.num_faces = 2  # the process kept ready made its landmarker for 1 face
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    assert live.session().child.pid != pid
    assert wait_for(lambda: process_gone(pid), 5.0)
    assert frames_arrive()
    bpy.ops.facemocap.stop_capture()


def test_a_process_kept_ready_that_died_is_replaced_at_start(kept_ready):
    pid = standby_pid()
    os.kill(pid, signal.SIGKILL)
    # gone: its threads too (its main thread shows as a zombie while MediaPipe's threads still exit)
    assert wait_for(lambda: not ready.waiting(), 5.0)
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    assert live.session().child.pid != pid
    assert frames_arrive()
    bpy.ops.facemocap.stop_capture()


def test_the_process_kept_ready_ends_on_file_load_and_when_the_preference_is_turned_off(kept_ready, tmp_path):
    pid = standby_pid()
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "scene.blend"))  # the addon fixture saved it
    assert ready.pid() is None and wait_for(lambda: process_gone(pid), 5.0)

    make_rig()
    pid = standby_pid()
    bpy.context.preferences.addons[ADDON_ID].preferences.keep_capture_ready = False
    assert ready.pid() is None and wait_for(lambda: process_gone(pid), 5.0)
    keep_ready.forget()
    keep_ready.keep_capture_ready(bpy.context)
    assert ready.pid() is None  # off: none is started
