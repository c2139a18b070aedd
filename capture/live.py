"""Live mode: connect to Blender on 127.0.0.1, authenticate, stream frames until told to stop.

The process ends when its input ends, on SIGTERM/SIGINT, or as soon as Blender closes the
socket, so it never outlives Blender. In standby (standby.py) it loads the model first and
opens its source only when Blender sends Start.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import cv2

from .errors import EXIT_OK, CaptureProcessError, ConnectionFailed, UsageError
from .landmarker import Landmarker
from .pipeline import CaptureSettings, checked_model, open_input, track
from .protocol import (ACCEPTED, MAX_PREVIEW_BYTES, STANDBY, TOKEN_ENV, Bye, Decoder, Error, Heartbeat, Hello,
                       Message, Preview, ProtocolError, Start, Status, encode)
from .sources import VideoFrame
from .standby import StartSlot, started_settings

HEARTBEAT_INTERVAL_S = 0.5  # the spec promises at least one a second
HANDSHAKE_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 5.0  # Blender not reading for this long ends the session
RECV_BYTES = 1 << 16
PREVIEW_MAX_SIDE = 320


def parse_address(text: str) -> tuple[str, int]:
    """'127.0.0.1:PORT' (or localhost / [::1]) -> (host, port); only this machine is allowed."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--connect expects 127.0.0.1:PORT, not '{text}'")
    loopback = host == "localhost"
    try:
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not loopback:
        raise UsageError(f"--connect only connects to this machine (127.0.0.1), not '{host}'")
    return host, int(port_text)


def read_token(from_stdin: bool) -> str:
    """The session token from one line of stdin or from FACE_MOCAP_TOKEN (never from argv)."""
    token = sys.stdin.readline().strip() if from_stdin else os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        where = "standard input" if from_stdin else f"the environment variable {TOKEN_ENV}"
        raise UsageError(f"no session token on {where} (Blender passes it; it is never a command-line argument)")
    return token


class Connection:
    """The socket to Blender: sending from the capture loop, a reader thread watching for close."""

    def __init__(self, host: str, port: int) -> None:
        self.address = f"{host}:{port}"
        try:
            self._sock = socket.create_connection((host, port), timeout=SEND_TIMEOUT_S)
        except OSError as exc:
            raise ConnectionFailed(f"cannot connect to Blender at {self.address}: {exc.strerror or exc}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._decoder = Decoder()
        self._received: list[Message] = []  # decoded, not yet handed out
        self.closed_reason: str | None = None  # set when Blender ends the session
        self.peer_error: Error | None = None
        self._last_heartbeat = 0.0
        self._send_lock = threading.Lock()  # whole messages only, whichever thread sends
        self.start = StartSlot()  # Blender's Start, for a process in standby

    def send(self, message: Message) -> None:
        """Send one message; a vanished peer becomes ConnectionFailed."""
        data = encode(message)
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except socket.timeout:
            raise ConnectionFailed(f"Blender stopped reading for {SEND_TIMEOUT_S:g} s") from None
        except OSError as exc:
            self.closed_reason = self.closed_reason or f"connection lost ({exc.strerror or exc})"
            raise ConnectionClosed(self.closed_reason) from None

    def send_quietly(self, message: Message) -> None:
        """Best effort, for errors on the way out."""
        try:
            self.send(message)
        except CaptureProcessError:
            pass

    def heartbeat_if_due(self) -> None:
        """Send a Heartbeat when the last one is HEARTBEAT_INTERVAL_S old."""
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_INTERVAL_S:
            self._last_heartbeat = now
            self.send(Heartbeat(timestamp_us=time.time_ns() // 1000))

    @contextlib.contextmanager
    def heartbeats_in_background(self) -> Iterator[None]:
        """Keep heartbeats going while start-up blocks (model load, a camera that is slow to open)."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(HEARTBEAT_INTERVAL_S):
                try:
                    self.send(Heartbeat(timestamp_us=time.time_ns() // 1000))
                except CaptureProcessError:
                    return

        thread = threading.Thread(target=beat, name="startup-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def handshake(self, token: str) -> None:
        """Send Hello and wait for Blender's answer: Status 'accepted' or an Error."""
        self.send(Hello(token=token))
        try:
            reply = self._next_message(deadline=time.monotonic() + HANDSHAKE_TIMEOUT_S)
        except (ProtocolError, OSError) as exc:
            raise ConnectionFailed(f"bad handshake answer from Blender: {exc}") from None
        if isinstance(reply, Error):
            raise ConnectionFailed(f"Blender rejected the session: {reply.message} ({reply.code})")
        if not (isinstance(reply, Status) and reply.state == ACCEPTED):
            raise ConnectionFailed("Blender closed the connection during the handshake (wrong token or version?)")

    def _next_message(self, deadline: float | None = None) -> Message | None:
        """The next message from Blender, None at the end of the stream.

        Reads the raw socket: its timeout (there for sends) only means Blender had nothing
        to say, which is normal while streaming. A makefile() stream would die on the first
        timeout instead. With a deadline, silence until then is a ConnectionFailed."""
        while not self._received:
            try:
                data = self._sock.recv(RECV_BYTES)
            except socket.timeout:
                if deadline is not None and time.monotonic() >= deadline:
                    raise ConnectionFailed(
                        f"Blender did not answer the handshake within {HANDSHAKE_TIMEOUT_S:g} s") from None
                continue
            if not data:
                return None
            self._received.extend(self._decoder.feed(data))
        return self._received.pop(0)

    def watch(self, stop: threading.Event) -> None:
        """Start a thread that sets `stop` when Blender closes the socket, says Bye or errors."""
        threading.Thread(target=self._read_loop, args=(stop,), name="receiver", daemon=True).start()

    def _read_loop(self, stop: threading.Event) -> None:
        while True:
            try:
                message = self._next_message()
            except (ProtocolError, OSError) as exc:
                self.closed_reason = f"connection lost ({exc})"
                break
            if message is None:
                self.closed_reason = "Blender closed the connection"
                break
            if isinstance(message, Bye):
                self.closed_reason = "Blender asked to stop"
                break
            if isinstance(message, Error):
                self.peer_error = message
                self.closed_reason = f"Blender reported an error: {message.message}"
                break
            if isinstance(message, Start):
                self.start.put(message)
        stop.set()

    def close(self) -> None:
        """Close the socket (Blender sees end of stream)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


class ConnectionClosed(ConnectionFailed):
    """Blender went away: the normal way a live session ends."""


def preview_of(frame: VideoFrame, max_side: int = PREVIEW_MAX_SIDE, quality: int = 70) -> Preview | None:
    """A downscaled JPEG of the frame, or None if it does not fit the protocol limit."""
    width, height = frame.size
    scale = min(1.0, max_side / max(width, height))
    small = cv2.resize(frame.rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1.0 else frame.rgb
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok or len(jpeg) > MAX_PREVIEW_BYTES:
        return None
    return Preview(frame_index=frame.index, width=small.shape[1], height=small.shape[0], jpeg=jpeg.tobytes())


def run_live(settings: CaptureSettings, address: str, token: str, preview_fps: float = 5.0,
             stop: threading.Event | None = None, rerun_path: Path | None = None, standby: bool = False) -> int:
    """Stream to Blender until the input ends, Blender closes, or `stop` is set; return the exit code.

    standby: load the model, say Status 'standby', and wait for Blender's Start (its source,
    playback and preview rate replace those in `settings`) before opening any source."""
    stop = stop or threading.Event()
    conn = Connection(*parse_address(address))
    source = landmarker = rerun = None
    try:
        conn.handshake(token)
        conn.watch(stop)
        conn.send(Status(state="loading_model"))
        with conn.heartbeats_in_background():
            model_path = checked_model(settings)
            source = None if standby else open_input(settings)  # a bad source shows before the model loads
            landmarker = Landmarker(model_path, settings.landmarker, quiet=settings.quiet_native_logs)
            if standby:
                conn.send(Status(state=STANDBY, detail=model_path.name))
                start = conn.start.wait(stop)
                if start is None and conn.closed_reason is None:  # a signal
                    conn.send_quietly(Bye(reason="stopped"))
                    return EXIT_OK
                if start is None:
                    raise ConnectionClosed(conn.closed_reason)
                settings, preview_fps = started_settings(settings, start), start.preview_fps
                source = open_input(settings)
            if rerun_path is not None:
                from .rerun_log import RerunLogger

                rerun = RerunLogger(rerun_path, model_path)
        conn.send(Status(state="model_loaded", detail=model_path.name))
        conn.send(Status(state="running", fps=source.fps, detail=source.description))
        _stream(conn, source, landmarker, settings, stop, preview_fps, rerun)
        if conn.closed_reason:
            raise ConnectionClosed(conn.closed_reason)
        if stop.is_set():
            conn.send_quietly(Bye(reason="stopped"))
        else:
            conn.send(Status(state="end_of_input", detail=source.description))
            conn.send(Bye(reason="end_of_input"))
        if rerun:
            rerun.finish()
            rerun = None
        return EXIT_OK
    except ConnectionClosed as exc:
        if conn.peer_error is not None:
            raise ConnectionFailed(conn.closed_reason or str(exc)) from None
        print(f"capture stopped: {exc}", file=sys.stderr)
        if rerun:
            rerun.finish()
            rerun = None
        return EXIT_OK
    except CaptureProcessError as exc:
        if not isinstance(exc, ConnectionFailed):  # Blender learns why, then sees the socket close
            conn.send_quietly(Error(code=exc.code, message=str(exc)))
        raise
    finally:
        if rerun is not None:
            rerun.abort()
        if landmarker is not None:
            landmarker.close()
        if source is not None:
            source.close()
        conn.close()


def _stream(conn: Connection, source, landmarker: Landmarker, settings: CaptureSettings,
            stop: threading.Event, preview_fps: float, rerun) -> None:
    preview_interval = 1.0 / preview_fps if preview_fps > 0 else None
    last_preview, last_status = 0.0, time.monotonic()
    frames_since_status = 0
    for frame, result in track(source, landmarker, stop, settings.max_frames, settings.realtime,
                               idle=conn.heartbeat_if_due):
        conn.send(result)
        now = time.monotonic()
        if preview_interval is not None and now - last_preview >= preview_interval:
            last_preview = now
            preview = preview_of(frame)
            if preview is not None:
                conn.send(preview)
        frames_since_status += 1
        if now - last_status >= 1.0:
            conn.send(Status(state="running", fps=frames_since_status / (now - last_status),
                             detail=source.description))
            last_status, frames_since_status = now, 0
        conn.heartbeat_if_due()
        if rerun:
            rerun.log(frame, result)
