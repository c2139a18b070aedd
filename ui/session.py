"""Capture session core: the local socket and the receiver thread for one capture process.

No bpy here: the thread only fills a latest-frame slot, the preview slot, the take
writer and a status; the main thread (a bpy timer) reads them through poll()/take_frame().
The child gets the session token through its environment, never its command line.
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..capture import protocol
from ..capture.takes import TakeError, TakeWriter
from ..capture.face_choice import FaceTracker
from .child import CaptureError, CaptureOptions, _ChildProcess, check_options, child_environment, with_hint

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 2.0  # a connection that does not authenticate by then is dropped
STARTUP_TIMEOUT_S = 45.0  # launch -> authenticated; importing MediaPipe the first time can be slow
STALL_TIMEOUT_S = 5.0  # no message at all for this long (heartbeats come every 0.5 s): stalled
LISTEN_BACKLOG = 16
_RECV_BYTES = 1 << 16


@dataclass
class SessionStatus:
    """What the panel shows; a copy is handed to the main thread."""

    state: str = "idle"  # idle | starting | running | stopped | failed | ended
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
        self.child: _ChildProcess | None = None
        self.started_at = 0.0
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._authenticated: socket.socket | None = None
        self._status = SessionStatus()
        self._latest: tuple[protocol.FaceFrame, float] | None = None
        self._image_size = (0, 0)  # of the frames, for the take's metadata (head pose needs it)
        self._frame_seq = 0
        self._taken_seq = 0
        self._preview: protocol.Preview | None = None
        self._preview_seq = 0
        self._receive_times: collections.deque[float] = collections.deque(maxlen=120)
        self._last_message_at = 0.0
        self._writer: TakeWriter | None = None
        self._writer_lock = threading.Lock()  # disk I/O happens under this one, never under _lock
        self._finished_takes: list[Path] = []
        self._error_reported = False
        self._bye_reason = ""  # the capture process's own reason for leaving

    # -- lifecycle (main thread) -------------------------------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1, launch the child with the token in its environment."""
        check_options(self.options)
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(LISTEN_BACKLOG)
        server.settimeout(0.2)  # lets the accept loop notice stop()
        self._server = server
        self.port = server.getsockname()[1]
        self._status.state = "starting"
        self._spawn_thread(self._accept_loop, "face_mocap-accept")
        args = [self.options.interpreter, "-m", "capture", *self.options.capture_args(),
                "--connect", f"127.0.0.1:{self.port}", "--preview-fps", f"{self.options.preview_fps:g}"]
        if self.options.realtime:
            args.append("--realtime")
        if self.options.loop:
            args.append("--loop")
        try:
            self.child = _ChildProcess(args, child_environment(self.token, self.options.python_path, self.options.env))
        except CaptureError:
            self._close_sockets()
            self._status.state = "failed"
            raise
        self.started_at = self._last_message_at = time.monotonic()

    def stop(self) -> Path | None:
        """Close every socket, finish the take being recorded and end the child (gone within
        2 s, without waiting for it here); the take, if one was recording (CaptureError: see
        stop_recording)."""
        self._stop_event.set()
        self._close_sockets()
        if self.child is not None:
            self.child.stop()
        for thread in list(self._threads):
            thread.join(0.5)  # each wakes within 0.25 s once its socket is closed
        try:
            return self.stop_recording()  # CaptureError: the partial take is listed, the message says what was kept
        finally:
            with self._lock:
                if self._status.state in ("starting", "running"):
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
            writer = self._writer  # read once: the receiver thread may drop it (a full disk)
            if writer is not None:
                status.frames_recorded = writer.frames_appended
            recent = [t for t in self._receive_times if now - t <= 1.0]
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
        self._stop_event.set()
        self._close_sockets()
        self.child.stop()
        try:
            self.stop_recording()
        except CaptureError as exc:
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
            raise CaptureError("Start Capture before recording")
        if all(self._image_size):
            metadata = {**metadata, "image_size": list(self._image_size)}
        try:
            writer = TakeWriter(path, metadata)
        except OSError as exc:
            raise CaptureError(f"Cannot write the take to {path}: {exc.strerror or exc}. "
                               "Save the .blend somewhere writable") from None
        with self._writer_lock:
            if self._writer is not None:
                writer.abort()
                raise CaptureError("Already recording")
            self._writer = writer
        with self._lock:
            self._status.recording = True

    def stop_recording(self) -> Path | None:
        """Finish the take being recorded (atomically); None when nothing was recording.

        CaptureError when it cannot be finished (a full disk): what was written stays on
        disk as an interrupted take, is listed, and the message says how much was kept."""
        with self._writer_lock:  # waits for a frame being written, never for the main thread's tick
            writer, self._writer = self._writer, None
            if writer is None:
                return None
            path, problem = self._finish_writer(writer)
        if problem:
            raise CaptureError(f"The take could not be finished: {problem}")
        return path

    def _finish_writer(self, writer: TakeWriter) -> tuple[Path | None, str]:
        """Finish a take; on failure keep its .partial file listed. (path, problem in words)."""
        try:
            path = writer.finish({"frame_count": writer.frames_appended, "image_size": list(self._image_size)})
        except (OSError, TakeError) as exc:
            log.error("could not finish take %s: %s", writer.path, exc)
            kept = writer.partial_path if writer.partial_path.exists() else None
            self._take_done(kept)
            return kept, str(exc)
        self._take_done(path)
        return path, ""

    def _take_done(self, path: Path | None) -> None:
        with self._lock:
            self._status.recording = False
            if path is not None:
                self._finished_takes.append(path)

    def pop_finished_takes(self) -> list[Path]:
        """Takes finished since the last call (also those closed because the child died)."""
        with self._lock:  # the receiver thread adds one when a full disk stops a recording
            takes, self._finished_takes = self._finished_takes, []
        return takes

    # -- receiver (threads) ------------------------------------------------------------

    def _spawn_thread(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=name)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop_event.is_set():
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return  # listener closed by stop()
            with self._lock:
                self._connections.add(conn)
            self._threads = [thread for thread in self._threads if thread.is_alive()]  # strangers' are done
            self._spawn_thread(self._serve, "face_mocap-conn", conn)

    def _serve(self, conn: socket.socket) -> None:
        """Authenticate one connection, then decode its messages until it ends."""
        decoder = protocol.Decoder()
        pending: list = []
        try:
            conn.settimeout(HELLO_TIMEOUT_S)
            hello = self._read_hello(conn, decoder, pending)
            if hello is None:
                return
            conn.settimeout(0.25)
            for message in pending:
                self._handle(message)
            while not self._stop_event.is_set():
                try:
                    data = conn.recv(_RECV_BYTES)
                except socket.timeout:
                    continue
                if not data:
                    return
                for message in decoder.feed(data):
                    self._handle(message)
        except protocol.ProtocolError as exc:
            log.warning("capture connection dropped: %s", exc)
            with self._lock:
                if conn is not self._authenticated:
                    self._status.rejected_connections += 1
                else:
                    self._status.last_error = f"The capture process sent a malformed message ({exc})"
        except OSError:
            pass  # closed by stop() or by the peer
        finally:
            with self._lock:
                self._connections.discard(conn)
                if conn is self._authenticated:
                    self._authenticated = None
            conn.close()

    def _read_hello(self, conn: socket.socket, decoder: protocol.Decoder, pending: list):
        """Return the Hello when the first message authenticates, else None (connection dropped)."""
        deadline = time.monotonic() + HELLO_TIMEOUT_S
        while time.monotonic() < deadline and not self._stop_event.is_set():
            try:
                data = conn.recv(_RECV_BYTES)
            except socket.timeout:
                break
            if not data:
                break
            messages = list(decoder.feed(data))  # ProtocolError: garbage, dropped by the caller
            if not messages:
                continue
            hello = messages[0]
            answer = protocol.answer_hello(hello, self.token)
            with self._lock:
                if self._authenticated is not None and isinstance(answer, protocol.Status):
                    answer = protocol.Error(code="busy", message="another capture is already connected")
                if isinstance(answer, protocol.Status):
                    self._authenticated = conn
                else:
                    self._status.rejected_connections += 1
            conn.sendall(protocol.encode(answer))  # the capture process waits for the answer
            if not isinstance(answer, protocol.Status):
                return None
            with self._lock:
                if self._status.state == "starting":
                    self._status.state = "running"
            pending.extend(messages[1:])
            return hello
        with self._lock:
            self._status.rejected_connections += 1
        return None

    def _handle(self, message) -> None:
        now = time.monotonic()
        if isinstance(message, protocol.FaceFrame):  # the performer first, live and in the take
            message = self._performer.order(message)
        with self._lock:
            self._last_message_at = now
            if isinstance(message, protocol.FaceFrame):
                self._latest = (message, now)
                self._image_size = (message.width, message.height)
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
        if isinstance(message, protocol.FaceFrame):
            self._record(message)

    def _record(self, frame: protocol.FaceFrame) -> None:
        """Append to the take being recorded, outside the frame lock: a slow disk never stalls a tick."""
        with self._writer_lock:
            writer = self._writer
            if writer is None:
                return
            try:
                writer.append(frame)
            except OSError:  # a full disk: keep what is written, stop recording, say how much
                self._writer = None
                _, problem = self._finish_writer(writer)
                with self._lock:
                    self._status.last_error = f"Recording stopped: {problem}"

    def _close_sockets(self) -> None:
        if self._server is not None:
            try:
                self._server.close()
            except OSError:
                pass
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
