"""Live capture on the main thread: start/stop a session and the timer that drives the rig.

The receiver thread (link/session.py) only fills slots; `tick()` (a bpy.app.timers callback)
takes the newest frame, maps it and applies it to the rig, mirrors the status into
WindowManager.face_mocap, lists finished takes and reports a failure once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import bpy

from ..link import ready
from ..link.errors import SessionError
from ..link.session import CaptureSession, SessionStatus
from ..mapping.errors import MappingError
from . import characters, preview, takes_io
from .i18n import rpt_
from .live_rig import LiveRig

log = logging.getLogger(__name__)

TICK_S = 1.0 / 60.0  # the longest wait between ticks
FRAME_WAIT_S = 0.002  # around a frame's expected arrival, look this often
EARLY_S = 0.001  # wake this much before a frame is due
STATUS_EVERY_S = 1.0 / 30.0  # status, liveness, takes list and preview: at most this often


class _Live:
    """The one live capture of this Blender session (module state: bpy data cannot hold it)."""

    session: CaptureSession | None = None
    rig: LiveRig | None = None
    scene_name: str = ""
    preview_seq: int = 0
    status_at: float = 0.0  # monotonic time of the last status pass


def session() -> CaptureSession | None:
    """The running capture session, if any."""
    return _Live.session


def rig() -> "LiveRig | None":
    """What the running capture drives (its mapping pipeline and rig snapshot)."""
    return _Live.rig


def is_running() -> bool:
    """True while a capture session is starting or running."""
    return _Live.session is not None and _Live.session.active


def start(context: bpy.types.Context, options) -> None:
    """Launch the capture, snapshot the rig and start the timer; SessionError when it cannot."""
    if is_running():
        raise SessionError("A capture is already running: stop it first")
    scene = context.scene
    rig = LiveRig.from_scene(scene)  # MappingError: reported by the operator
    characters.start_live(scene)  # more characters, each following its own person
    new_session = ready.claim(options)  # the process kept ready (Keep Capture Ready), started now
    if new_session is None:
        new_session = CaptureSession(options)
        new_session.start()
    _Live.session, _Live.rig, _Live.scene_name = new_session, rig, scene.name
    _Live.preview_seq, _Live.status_at = 0, 0.0
    runtime = context.window_manager.face_mocap
    runtime.state, runtime.last_error, runtime.last_note, runtime.face_found = "starting", "", "", False
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=TICK_S)


def stop() -> Path | None:
    """Stop the capture (process gone within 2 s), finish recording, restore the rig.

    SessionError when the take being recorded could not be finished (what was written is listed)."""
    current = _Live.session
    if current is None:
        return None
    try:
        return current.stop()
    finally:
        _finish(current.poll())


def stop_quietly() -> None:
    """Stop without touching bpy data (unregister, file load)."""
    current, _Live.session = _Live.session, None
    if current is not None:
        try:
            current.stop()
        except SessionError as exc:  # nowhere to show it: the log has it, the partial take is listed
            log.error("%s", exc)
        try:
            _list_finished(current)  # a take being recorded is kept and listed
        except (AttributeError, ReferenceError):  # the properties are already gone
            pass
    _Live.rig = None
    characters.restore_live(stop=True)
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)


def rest_rig_for_saving() -> None:
    """Put the driven rig back at its rest pose so the file stores that, not a live frame;
    the next tick drives it again."""
    characters.restore_live(stop=False)
    if _Live.rig is not None:
        try:
            _Live.rig.restore()
        except ReferenceError:
            _Live.rig = None


def start_recording(context: bpy.types.Context, name: str) -> Path:
    """Record the following frames to a new take file; return its path."""
    current = _Live.session
    if current is None or not current.active:
        raise SessionError("Start Capture before recording")
    scene = context.scene
    path = takes_io.new_take_path(name)
    current.start_recording(path, takes_io.take_metadata(scene, current.options.source, name,
                                                            looped=current.options.loop))
    context.window_manager.face_mocap.recording = True
    return path


def stop_recording(context: bpy.types.Context) -> Path | None:
    """Finish the take being recorded and list it.

    SessionError when it cannot be finished: what was written is listed all the same."""
    current = _Live.session
    if current is None:
        return None
    context.window_manager.face_mocap.recording = False
    try:
        return current.stop_recording()
    finally:
        _list_finished(current)


def _scene() -> bpy.types.Scene | None:
    return bpy.data.scenes.get(_Live.scene_name)


def _list_finished(current: CaptureSession) -> None:
    scene = _scene()
    for path in current.pop_finished_takes():
        if scene is not None:
            takes_io.list_take(scene, path)


def _runtime():
    wm = bpy.context.window_manager
    return wm.face_mocap if wm is not None else None


def _mirror_status(status) -> None:
    runtime = _runtime()
    if runtime is None:
        return
    runtime.state = status.state
    runtime.fps = status.fps
    runtime.latency_ms = status.latency_ms
    runtime.face_found = status.face_found
    runtime.recording = status.recording
    runtime.frames_recorded = status.frames_recorded
    if status.last_error:
        runtime.last_error = status.last_error


def _finish(status) -> None:
    """The session is over (stopped, ended or failed): list takes, restore the rig, go idle."""
    current = _Live.session
    _Live.session = None
    if bpy.app.timers.is_registered(tick):  # also when called from tick() itself: safe in Blender
        bpy.app.timers.unregister(tick)
    if current is not None:
        _list_finished(current)
        error = current.take_error()
        if error:
            _report(error)
        elif status.end_reason:
            _report(status.end_reason, "INFO")
            runtime = _runtime()
            if runtime is not None:
                runtime.last_note = status.end_reason
    if _Live.rig is not None:
        try:
            _Live.rig.restore()
        except ReferenceError:
            pass  # the rig was deleted while capturing
        except Exception:  # e.g. a linked rig: still go idle; the log has what could not be put back
            log.exception("could not restore the rig after capturing")
        _Live.rig = None
    characters.restore_live(stop=True)
    _mirror_status(status)
    runtime = _runtime()
    if runtime is not None:
        runtime.state = "idle"
        runtime.recording = False
        runtime.face_found = False
        runtime.fps = 0.0
    preview.clear()


def _report(message: str, level: str = "ERROR") -> None:
    """Show why a capture ended, once, in the status bar and the Info log."""
    log.log(logging.ERROR if level == "ERROR" else logging.INFO, "capture ended: %s", message)
    try:
        bpy.ops.facemocap.report_problem(message=message, level=level)
    except (RuntimeError, AttributeError) as exc:  # no window or operator not registered
        log.debug("could not report through an operator: %s", exc)


def tick() -> float | None:
    """Timer callback: status, newest frame -> mapping -> rig, preview. Main thread only.

    Never lets an exception out: Blender would unregister the timer silently, leaving the
    capture running, the panel saying "running" and the rig never restored."""
    try:
        return _tick()
    except Exception as exc:  # a bug or a rig we cannot write: stop cleanly and say so once
        log.exception("the live capture stopped on an unexpected error")
        _stop_after(rpt_("Capture stopped: {error}. The rig was restored; details are in the system console")
                    .format(error=f"{exc.__class__.__name__}: {exc}"))
        return None


def _stop_after(message: str) -> None:
    """End the session after an error on the main thread: stop, restore, report once."""
    current = _Live.session
    if current is not None:
        try:
            current.stop()
        except SessionError as exc:  # the take could not be finished: its part is listed
            message = f"{message}. {exc}"
    _finish(SessionStatus(state="failed", last_error=message))
    _report(message)


def _tick() -> float | None:
    current = _Live.session
    if current is None:
        return None
    now = time.monotonic()
    if now - _Live.status_at >= STATUS_EVERY_S:
        _Live.status_at = now
        if not _status_pass(current):
            return None
    _apply_newest(current)
    return next_interval(current.next_frame_due(), time.monotonic())


def next_interval(due: float | None, now: float) -> float:
    """Seconds until the next tick: just before the next frame is due, then every FRAME_WAIT_S
    until it comes, so a frame waits about a millisecond for the rig instead of half a 60 Hz
    tick; back to TICK_S when frames stop coming (no face, a paused source)."""
    if due is None:
        return TICK_S
    wait = due - EARLY_S - now
    if wait > 0:
        return min(wait, TICK_S)
    return FRAME_WAIT_S if -wait < TICK_S else TICK_S


def _status_pass(current: CaptureSession) -> bool:
    """Status, end of the session, finished takes and the preview; False when the session is over."""
    status = current.poll()
    if not current.active:
        _finish(status)
        return False
    _mirror_status(status)
    _list_finished(current)
    scene = _scene()
    if scene is not None and scene.face_mocap.show_preview:
        preview_image, seq = current.take_preview(_Live.preview_seq)
        if preview_image is not None:
            _Live.preview_seq = seq
            preview.show(preview_image, current.peek_frame())
    return True


def _apply_newest(current: CaptureSession) -> None:
    """Map the newest frame (if it was not applied yet) and write it to the rig."""
    newest = current.take_frame()
    scene = _scene()
    if newest is None or _Live.rig is None or scene is None:
        return
    frame, received_at = newest
    try:
        _Live.rig.sync(scene)
        _Live.rig.apply(frame)
        characters.drive_live(scene, current.people())
    except ReferenceError:
        _Live.rig = None  # the rig objects were deleted: keep capturing, drive nothing
    except MappingError as exc:  # shown in the panel; capture carries on
        runtime = _runtime()
        if runtime is not None and runtime.last_error != str(exc):
            runtime.last_error = str(exc)
    current.note_applied(received_at)
