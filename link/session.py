"""One live capture session: the capture process, its connection and the newest frame.

No bpy here: the receiver thread (listener.py) only fills a latest-frame slot, the preview
slot, the take being recorded (recorder.py) and a status; the main thread (a bpy timer)
reads them through poll()/take_frame(). The child gets the session token through its
environment, never its command line.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..capture import protocol
from ..capture.face_choice import FaceTracker, Tracked
from .errors import LaunchError, SessionError, with_hint
from .listener import Listener
from .options import CaptureOptions, check_options, check_source, child_environment
from .process import ChildProcess
from .recorder import TakeRecorder

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 45.0  # launch -> authenticated; importing MediaPipe the first time can be slow
STALL_TIMEOUT_S = 5.0  # no message at all for this long (heartbeats come every 0.5 s): stalled


@dataclass
class SessionStatus:
    """What the panel shows; a copy is handed to the main thread."""

    state: str = "idle"  # idle | standby | starting | running | stopped | failed | ended
    fps: float = 0.0
    latency_ms: float = 0.0
    face_found: bool = False
    frames_received: int = 0
    frames_recorded: int = 0
    recording: bool = False
    capture_state: str = ""  # the capture process's own Status.state
    last_error: str = ""
    end_reason: str = ""  # why a session ended by itself without an error (the video ended)
    rejected_connections: int = 0


class CaptureSession:
    """One live capture: listener, child process, receiver thread, latest frame, take writer."""

    def __init__(self, options: CaptureOptions) -> None:
        self.options = options
        self.token = protocol.new_token()
        self._performer = FaceTracker()  # chosen on the first frame with faces, then followed
        self.port = 0
        self.child: ChildProcess | None = None
        self.started_at = 0.0
        self._lock = threading.Lock()
        self._listener = Listener(self.token, self._handle, self._on_connected, self._on_broken)
        self.recorder = TakeRecorder()
        self._status = SessionStatus()
        self._latest: tuple[protocol.FaceFrame, float] | None = None
        self._people: tuple[Tracked, list[int]] | None = None  # the newest frame's faces and ranked person ids
        self._image_size = (0, 0)  # of the frames, for the take's metadata (head pose needs it)
        self._frame_seq = 0
        self._taken_seq = 0
        self._preview: protocol.Preview | None = None
        self._preview_seq = 0
        self._receive_times: collections.deque[float] = collections.deque(maxlen=120)
        self._last_message_at = 0.0
        self._error_reported = False
        self._bye_reason = ""  # the capture process's own reason for leaving
        self._pending_start: bytes | None = None  # go() before the process in standby connected

    # -- lifecycle (main thread) -------------------------------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1, launch the child with the token in its environment."""
        check_options(self.options)
        args = [*self.options.capture_args(), "--preview-fps", f"{self.options.preview_fps:g}"]
        if self.options.realtime:
            args.append("--realtime")
        if self.options.loop:
            args.append("--loop")
        self._launch(args, "starting")

    def start_standby(self) -> None:
        """Launch a capture process in standby: it loads its model, opens no source, waits for go()."""
        check_options(self.options, source=False)  # the source comes with go()
        self._launch(["--standby", *self.options.landmarker_args()], "standby")

    def go(self, options: CaptureOptions) -> None:
        """Start capturing with a process in standby (options: the same standby_key(), any source);
        SessionError when it cannot take these options, LaunchError for a bad source."""
        start = options.start_message()
        if self._status.state != "standby" or start is None or options.standby_key() != self.options.standby_key():
            raise SessionError("this capture process in standby cannot start that capture")
        check_source(options.source)
        self.options = options
        message = protocol.encode(start)
        with self._lock:  # _on_connected takes it too: the Start is sent once, after "accepted"
            self.started_at = self._last_message_at = time.monotonic()
            sent = self._listener.send(message)  # OSError: it broke; poll() says why
            self._status.state = "running" if sent else "starting"
            self._pending_start = None if sent else message

    def standby_ready(self) -> bool:
        """True while in standby with the process alive, connected (or still connecting) and not stalled."""
        if self._status.state != "standby" or self.child is None or self.child.returncode() is not None:
            return False
        connected = self._listener.connected
        if self._status.capture_state and not connected:  # it connected, and the connection ended
            return False
        limit = STALL_TIMEOUT_S if connected else STARTUP_TIMEOUT_S
        return time.monotonic() - self._last_message_at <= limit

    def _launch(self, capture_args: list[str], state: str) -> None:
        self.port = self._listener.start()
        self._status.state = state
        args = [self.options.interpreter, "-m", "capture", *capture_args, "--connect", f"127.0.0.1:{self.port}"]
        try:
            self.child = ChildProcess(args, child_environment(self.token, self.options.python_path, self.options.env))
        except LaunchError:
            self._listener.close()
            self._status.state = "failed"
            raise
        self.started_at = self._last_message_at = time.monotonic()

    def stop(self) -> Path | None:
        """Close every socket, finish the take being recorded and end the child (gone within
        2 s, without waiting for it here); the take, if one was recording (SessionError: see
        stop_recording)."""
        self._listener.close()
        if self.child is not None:
            self.child.stop()
        self._listener.join(0.5)  # each thread wakes within 0.25 s once its socket is closed
        try:
            return self.stop_recording()  # SessionError: the partial take is listed, the message says what was kept
        finally:
            with self._lock:
                if self._status.state in ("standby", "starting", "running"):
                    self._status.state = "stopped"

    @property
    def active(self) -> bool:
        """True while the child may still be running."""
        return self._status.state in ("starting", "running")

    def poll(self) -> SessionStatus:
        """Notice a dead or stalled child, then return a snapshot of the status (main thread)."""
        if self.active and self.child is not None:
            code = self.child.returncode()
            problem = self._startup_or_stall_problem()
            if code is not None or problem:
                self._fail_or_end(code, problem)
        now = time.monotonic()
        with self._lock:  # the receiver thread appends to _receive_times: iterate it under the lock
            status = SessionStatus(**vars(self._status))
            recent = [t for t in self._receive_times if now - t <= 1.0]
        status.recording = self.recorder.recording
        status.frames_recorded = self.recorder.frames_appended()
        status.rejected_connections = self._listener.rejected
        status.fps = len(recent) / min(1.0, max(now - self.started_at, 1e-3)) if recent else 0.0
        return status

    def _startup_or_stall_problem(self) -> str:
        """Why a child that is still alive must be stopped, or ''."""
        waited = time.monotonic() - self._last_message_at
        if self._status.state == "starting" and waited > STARTUP_TIMEOUT_S:
            return (f"The capture process did not connect within {STARTUP_TIMEOUT_S:g} s and was stopped. "
                    "Press Check in Preferences > Add-ons > Face Mocap to test the capture interpreter")
        if self._status.state == "running" and waited > STALL_TIMEOUT_S:
            return (f"The capture process stopped responding (nothing for {STALL_TIMEOUT_S:g} s) and was "
                    "stopped. What was recorded is kept")
        return ""

    def _fail_or_end(self, code: int | None, problem: str) -> None:
        """The child exited or must be stopped: say why, unless it ended as asked (end of the video)."""
        end_reason = ""
        if problem:
            message = problem
        elif code == 0 and not self._status.last_error:
            if self._status.capture_state == "end_of_input":
                message, end_reason = "", f"The video ended ({self._status.frames_received} frames)"
            else:  # it left without being asked to by us: the user must learn why
                message = f"The capture process ended by itself: {self._departure()}"
        else:
            message = self._status.last_error or self.child.describe_failure(self.options.source)
        self._listener.close()
        self.child.stop()
        try:
            self.stop_recording()
        except SessionError as exc:
            message = f"{message}. {exc}" if message else str(exc)
        with self._lock:
            self._status.state = "failed" if message else "ended"
            self._status.last_error = message
            self._status.end_reason = end_reason
            self._status.face_found = False

    def _departure(self) -> str:
        """Why a capture process that exited cleanly left, in words."""
        if self._bye_reason == "stopped":
            return "it was told to stop from outside Blender (a signal)"
        said = self.child.stderr.last_message()
        return said or f"it exited without saying why (last state: {self._status.capture_state or 'none'})"

    def take_error(self) -> str:
        """The error to report, once: later calls return '' until a new error happens."""
        if self._status.state == "failed" and not self._error_reported:
            self._error_reported = True
            return self._status.last_error
        return ""

    # -- frames (main thread) ----------------------------------------------------------

    def next_frame_due(self) -> float | None:
        """When the next frame should arrive (monotonic), from the recent spacing; None if unknown."""
        with self._lock:
            recent = list(self._receive_times)[-9:]
        if len(recent) < 3:
            return None
        gaps = sorted(b - a for a, b in zip(recent, recent[1:]))
        return recent[-1] + gaps[len(gaps) // 2]

    def take_frame(self) -> tuple[protocol.FaceFrame, float] | None:
        """The newest frame and its arrival time (monotonic) if it was not taken before."""
        with self._lock:
            if self._latest is None or self._frame_seq == self._taken_seq:
                return None
            self._taken_seq = self._frame_seq
            return self._latest

    def people(self) -> tuple[Tracked, list[int]] | None:
        """The newest frame with every face's person id, and the person ids by rank (1 = the performer)."""
        with self._lock:
            return self._people

    def peek_frame(self) -> protocol.FaceFrame | None:
        """The newest frame, taken or not (for Calibrate Neutral)."""
        with self._lock:
            return self._latest[0] if self._latest else None

    def take_preview(self, last_seq: int) -> tuple[protocol.Preview | None, int]:
        """The newest preview image if it is newer than last_seq, and its sequence number."""
        with self._lock:
            if self._preview_seq == last_seq:
                return None, last_seq
            return self._preview, self._preview_seq

    def note_applied(self, received_at: float) -> None:
        """Record how long a frame waited between arrival and being applied to the rig."""
        with self._lock:
            self._status.latency_ms = (time.monotonic() - received_at) * 1000.0

    # -- recording (main thread) -------------------------------------------------------

    def start_recording(self, path: str | os.PathLike, metadata: dict) -> None:
        """Stream every following frame to a take file at path."""
        if not self.active:
            raise SessionError("Start Capture before recording")
        if all(self._image_size):
            metadata = {**metadata, "image_size": list(self._image_size)}
        self.recorder.start(path, metadata)

    def stop_recording(self) -> Path | None:
        """Finish the take being recorded; None when nothing was recording (see TakeRecorder.stop)."""
        return self.recorder.stop()

    def pop_finished_takes(self) -> list[Path]:
        """Takes finished since the last call (also those closed because the child died)."""
        return self.recorder.pop_finished()

    # -- receiver (threads) ------------------------------------------------------------

    def _on_connected(self) -> None:
        with self._lock:
            if self._status.state == "starting":
                self._status.state = "running"
            start, self._pending_start = self._pending_start, None
            if start is not None:  # go() came while the process in standby was connecting
                self._listener.send(start)

    def _on_broken(self, message: str) -> None:
        with self._lock:
            self._status.last_error = message

    def _handle(self, message) -> None:
        now = time.monotonic()
        tracked = None
        if isinstance(message, protocol.FaceFrame):  # who is who: the performer first, live and in the take
            tracked = self._performer.track(message)
            message = tracked.performer_frame()
        with self._lock:
            self._last_message_at = now
            if tracked is not None:
                self._latest = (message, now)
                self._people = (tracked, self._performer.ranked())
                self._image_size = self.recorder.image_size = (message.width, message.height)
                self._frame_seq += 1
                self._receive_times.append(now)
                self._status.frames_received += 1
                self._status.face_found = bool(message.faces)
            elif isinstance(message, protocol.Preview):
                self._preview = message
                self._preview_seq += 1
            elif isinstance(message, protocol.Status):
                self._status.capture_state = message.state
            elif isinstance(message, protocol.Bye):
                self._bye_reason = message.reason
            elif isinstance(message, protocol.Error):
                self._status.last_error = with_hint(message.message, message.code, self.options.source)
            elif isinstance(message, protocol.Hello):
                raise protocol.ProtocolError("a second Hello on an authenticated connection")
        if isinstance(message, protocol.FaceFrame):  # outside the frame lock: a slow disk never stalls a tick
            problem = self.recorder.append(tracked)
            if problem:
                with self._lock:
                    self._status.last_error = problem
