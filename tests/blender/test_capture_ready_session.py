"""Keep Capture Ready (on by default) at the length of a real session: the process kept ready waits
longer than every timeout with the panel on screen, Start Capture takes it, a minute of capture is
recorded whole, the next Start Capture takes the next one, and none is left once the add-on is off.

Every wait here is longer than every timeout of a live session (test_every_wait_outlasts_... reads
them from the code):
- Blender side: a connection says Hello within 2 s (link/listener.py HELLO_TIMEOUT_S); a capture
  process connects within 45 s of its launch (link/session.py STARTUP_TIMEOUT_S, also what
  ready.waiting() allows a process in standby that has not connected yet) and then says something
  at least every 5 s (STALL_TIMEOUT_S); a stopped process is killed 1 s after it was asked to end
  (link/process.py STOP_GRACE_S).
- Capture process side (capture/live.py): a heartbeat every 0.5 s (HEARTBEAT_INTERVAL_S, also while
  in standby), Blender answers the handshake within 10 s (HANDSHAKE_TIMEOUT_S) and reads within 5 s
  (SEND_TIMEOUT_S, the socket's timeout); a camera delivers its first image within 5 s and then at
  least every 5 s (capture/sources.py open_timeout_s, stall_timeout_s).
So the process waits STANDBY_S (65 s) in standby, and the capture records SESSION_S (65 s) of the
19.7 s Pexels clip looped in real time.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import bpy
import numpy as np

import face_mocap
from face_mocap.capture.takes import read_take
from face_mocap.link import ready
from face_mocap.ui import keep_ready, live, panels, takes_io
from live_scene import draw_panel, process_gone, run_timer_until, wait_for
from process_scan import children_running, memory_mb, open_files

CLIP_FPS = 23.976  # the clip kept_ready plays (conftest.py), 19.7 s long, looped here
STANDBY_S = 65.0
SESSION_S = 65.0
RSS_GROWTH_MB = 30.0  # the capture process's memory over the minute, after its first 10 s
TIMEOUT_SOURCES = ("capture/live.py", "capture/sources.py", "link/listener.py", "link/session.py",
                   "link/process.py")


def live_session_timeouts(repo_root: Path) -> dict[str, float]:
    """Every timeout and interval of a live session, as the code states it: {file:NAME: seconds}."""
    found = {}
    for name in TIMEOUT_SOURCES:
        text = (repo_root / name).read_text()
        for constant, seconds in re.findall(r"\b(\w*(?:timeout|interval|grace)_s)\b(?:: float)? = ([\d.]+)",
                                            text, re.IGNORECASE):
            found[f"{name}:{constant}"] = float(seconds)
    return found


def test_every_wait_outlasts_every_timeout_of_a_live_session(repo_root):
    timeouts = live_session_timeouts(repo_root)
    assert {"link/session.py:STARTUP_TIMEOUT_S", "link/session.py:STALL_TIMEOUT_S",
            "capture/live.py:HANDSHAKE_TIMEOUT_S", "capture/live.py:SEND_TIMEOUT_S",
            "capture/live.py:HEARTBEAT_INTERVAL_S", "link/listener.py:HELLO_TIMEOUT_S",
            "capture/sources.py:stall_timeout_s", "capture/sources.py:open_timeout_s"} <= timeouts.keys(), timeouts
    longest = max(timeouts, key=timeouts.get)
    assert min(STANDBY_S, SESSION_S) > timeouts[longest] + 10.0, f"{longest} = {timeouts[longest]:g} s"


def session_threads() -> list[str]:
    """The add-on's threads still running in Blender (listeners, pipe readers, reapers)."""
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("face_mocap-")]


def panel_on_screen(seconds: float, until=lambda: False) -> None:
    """Blender idle with the Face Mocap panel shown and nothing pressed, for `seconds` or until
    until(): the panel redrawn and the timer it registers run once, as Blender's event loop does
    (bpy as a module has none)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        redraw_panel()
        time.sleep(0.1)


def redraw_panel() -> None:
    """The Face Mocap panel drawn, then the timer its draw() registered run once, as Blender would."""
    draw_panel(panels.FACEMOCAP_PT_main)
    if bpy.app.timers.is_registered(keep_ready._keep_ready_timer):
        bpy.app.timers.unregister(keep_ready._keep_ready_timer)  # it returns None: Blender runs it once
        keep_ready._keep_ready_timer()


def start_and_time_first_frame(rig) -> float:
    """Press Start Capture; seconds until the rig moves."""
    head = rig.pose.bones["head"]
    pressed = time.monotonic()
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    moved = run_timer_until(lambda: any(abs(a) > 1e-3 for a in head.rotation_euler), 30.0)
    assert moved, bpy.context.window_manager.face_mocap.last_error
    return time.monotonic() - pressed


def standby_for(seconds: float) -> tuple[int, float]:
    """The panel shown for `seconds`: the pid of the process kept ready all along, its peak RSS (MB)."""
    panel_on_screen(60.0, until=lambda: ready.pid() is not None)
    pid = ready.pid()
    assert pid is not None, "showing the panel kept no process ready"
    waited_from = time.monotonic()
    deaths = []

    def gone() -> bool:
        if ready.pid() != pid or not ready.waiting():
            deaths.append(time.monotonic() - waited_from)
        return bool(deaths)

    panel_on_screen(seconds, until=gone)
    assert not deaths, f"the process kept ready was lost after {deaths[0]:.1f} s in standby"
    assert ready.loaded()
    return pid, memory_mb(pid)


def record_a_minute(rig, pid: int) -> None:
    """Record SESSION_S of live capture with the panel shown: every frame received in the take, the
    rig driven to the end, the capture process's memory flat, no second process kept ready meanwhile."""
    current = live.session()
    head = rig.pose.bones["head"]
    received_at_record = current.poll().frames_received
    assert bpy.ops.facemocap.record() == {"FINISHED"}
    received_recording = current.poll().frames_received  # one arriving while Record runs may be in the take
    started = time.monotonic()
    rss_at_10_s: list[float] = []
    late_angles: list[float] = []
    kept_ready_while_capturing: list[int] = []

    def a_minute_later() -> bool:
        elapsed = time.monotonic() - started
        redraw_panel()  # the status it shows changes: Blender redraws it while capturing
        if ready.pid() is not None:
            kept_ready_while_capturing.append(ready.pid())
        if elapsed >= 10.0 and not rss_at_10_s:
            rss_at_10_s.append(memory_mb(pid, "VmRSS"))
        if elapsed > SESSION_S - 10.0:
            late_angles.append(head.rotation_euler.x)
        return elapsed >= SESSION_S or not live.is_running()

    run_timer_until(a_minute_later, SESSION_S + 30.0)
    runtime = bpy.context.window_manager.face_mocap
    assert live.is_running(), f"the capture ended after {time.monotonic() - started:.1f} s: {runtime.last_error}"
    assert not kept_ready_while_capturing, "a second process was started in standby while capturing"
    growth_mb = memory_mb(pid, "VmRSS") - rss_at_10_s[0]
    peak_mb = memory_mb(pid)
    received_stop = current.poll().frames_received
    assert bpy.ops.facemocap.stop_recording() == {"FINISHED"}
    received_stopped = current.poll().frames_received
    surely, at_most = received_stop - received_recording, received_stopped - received_at_record

    take_item = bpy.context.scene.face_mocap.takes[0]
    take = read_take(takes_io.resolve(take_item))
    figures = (f"{take.frame_count} frames in the take over {take.duration_s:.1f} s, {surely} to {at_most} "
               f"received while recording; capture process peak RSS {peak_mb:.0f} MB, "
               f"+{growth_mb:.1f} MB after its first 10 s")
    print(f"Keep Capture Ready session: {figures}")  # shown with pytest -s
    assert take.complete and take_item.frame_count == take.frame_count, figures
    # - 1: a frame counted as received just before Stop Recording, its thread not yet at the take
    assert surely - 1 <= take.frame_count <= at_most, f"frames received but not in the take: {figures}"
    assert np.all(np.diff(take.frame_indices) == 1), f"gaps in the frame indices: {figures}"
    assert take.duration_s >= SESSION_S - 2.0 and take.frame_count >= 0.9 * take.duration_s * CLIP_FPS, figures
    assert take.face_found.mean() > 0.9, figures
    assert len(set(late_angles)) > 20, f"the head bone was no longer driven in the last 10 s: {figures}"
    assert growth_mb < RSS_GROWTH_MB, f"the capture process's memory grew: {figures}"


def test_the_process_kept_ready_outlasts_every_timeout_and_serves_a_minute_of_capture(kept_ready):
    bpy.context.scene.face_mocap.loop_video = True
    rig = bpy.context.scene.face_mocap.target_armature
    pid, standby_peak_mb = standby_for(STANDBY_S)
    assert kept_ready not in open_files(pid), "the process in standby opened the video before Start"

    first_frame_s = start_and_time_first_frame(rig)
    assert live.session().child.pid == pid, "Start Capture launched a new process instead of the one kept ready"
    record_a_minute(rig, pid)
    print(f"standby peak RSS {standby_peak_mb:.0f} MB; first frame on the rig {first_frame_s:.2f} s after Start")

    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}
    assert bpy.context.window_manager.face_mocap.last_error == ""
    assert wait_for(lambda: process_gone(pid), 3.0), "the capture process outlived Stop Capture"
    next_pid = ready.pid()
    assert next_pid not in (None, pid) and ready.waiting(), "no process was kept ready after Stop Capture"

    retake_first_frame_s = start_and_time_first_frame(rig)  # a retake: Start again right away, still loading
    assert live.session().child.pid == next_pid, "the second Start Capture launched a new process"
    print(f"retake: first frame on the rig {retake_first_frame_s:.2f} s after Start (its model still loading)")
    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}
    assert ready.pid() not in (None, next_pid)

    face_mocap.unregister()  # what disabling the add-on does
    try:
        assert ready.pid() is None
        assert wait_for(lambda: not children_running(), 3.0), f"capture processes left running: {children_running()}"
        assert wait_for(lambda: not session_threads(), 3.0), f"threads left running: {session_threads()}"
    finally:
        face_mocap.register()  # the fixture unregisters it
