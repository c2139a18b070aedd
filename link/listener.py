"""The 127.0.0.1 listener of one capture session: who may talk to Blender, and their messages.

Any local program can connect to the port, so the first message must be a Hello with the
session's token and protocol version; anything else (a wrong token or version, garbage, a
second process while one is connected) gets an Error and is dropped. The authenticated
connection's messages go to `on_message` on a receiver thread. No bpy here.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Callable

from ..capture import protocol

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 2.0  # a connection that does not authenticate by then is dropped
LISTEN_BACKLOG = 16
_RECV_BYTES = 1 << 16


class Listener:
    """Accept connections on an ephemeral local port; let the one with the token in."""

    def __init__(self, token: str, on_message: Callable[[object], None], on_connected: Callable[[], None],
                 on_broken: Callable[[str], None]) -> None:
        self.token = token
        self.rejected = 0  # connections dropped: wrong token or version, garbage, silence, busy
        self._on_message = on_message
        self._on_connected = on_connected  # the capture process authenticated
        self._on_broken = on_broken  # it sent something malformed (the message says what)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._authenticated: socket.socket | None = None
        self._answered: socket.socket | None = None  # the authenticated connection once "accepted" is sent

    def start(self) -> int:
        """Listen on 127.0.0.1 and accept in a thread; the port."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(LISTEN_BACKLOG)
        server.settimeout(0.2)  # lets the accept loop notice close()
        self._server = server
        self._spawn_thread(self._accept_loop, "face_mocap-accept")
        return server.getsockname()[1]

    def close(self) -> None:
        """Stop accepting and close every connection (threads wake within 0.25 s)."""
        self._stop_event.set()
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

    @property
    def connected(self) -> bool:
        """True while the capture process is connected and authenticated."""
        with self._lock:
            return self._answered is not None

    def send(self, data: bytes) -> bool:
        """Send an encoded message to the authenticated connection (after its 'accepted'); False
        when there is none. Only between on_connected and the connection's end (OSError: it broke)."""
        with self._lock:
            conn = self._answered
        if conn is None:
            return False
        conn.sendall(data)
        return True

    def join(self, timeout: float) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

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
                return  # listener closed by close()
            with self._lock:
                self._connections.add(conn)
            self._threads = [thread for thread in self._threads if thread.is_alive()]  # strangers' are done
            self._spawn_thread(self._serve, "face_mocap-conn", conn)

    def _reject(self) -> None:
        with self._lock:
            self.rejected += 1

    def _serve(self, conn: socket.socket) -> None:
        """Authenticate one connection, then decode its messages until it ends."""
        decoder = protocol.Decoder()
        pending: list = []
        try:
            conn.settimeout(HELLO_TIMEOUT_S)
            if self._read_hello(conn, decoder, pending) is None:
                return
            conn.settimeout(0.25)
            for message in pending:
                self._on_message(message)
            while not self._stop_event.is_set():
                try:
                    data = conn.recv(_RECV_BYTES)
                except socket.timeout:
                    continue
                if not data:
                    return
                for message in decoder.feed(data):
                    self._on_message(message)
        except protocol.ProtocolError as exc:
            log.warning("capture connection dropped: %s", exc)
            if conn is not self._authenticated:
                self._reject()
            else:
                self._on_broken(f"The capture process sent a malformed message ({exc})")
        except OSError:
            pass  # closed by close() or by the peer
        finally:
            with self._lock:
                self._connections.discard(conn)
                if conn is self._authenticated:
                    self._authenticated = self._answered = None
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
                    self.rejected += 1
            conn.sendall(protocol.encode(answer))  # the capture process waits for the answer
            if not isinstance(answer, protocol.Status):
                return None
            with self._lock:
                self._answered = conn
            self._on_connected()
            pending.extend(messages[1:])
            return hello
        self._reject()
        return None
