"""Who may talk to Blender: the session's listener on a real local socket, without Blender."""

from __future__ import annotations

import socket
import threading
import time

from face_mocap.capture import protocol
from face_mocap.link.listener import Listener


class Inbox:
    """What the listener hands on, as the session receives it."""

    def __init__(self) -> None:
        self.messages: list = []
        self.connected = threading.Event()
        self.broken: list[str] = []

    def listener(self, token: str) -> Listener:
        return Listener(token, self.messages.append, self.connected.set, self.broken.append)


def send(port: int, data: bytes, then: bytes = b"") -> tuple[list, socket.socket]:
    """Connect, send data, read the answer (the listener answers a Hello before anything else)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(data)
    answer = b""
    conn.settimeout(3)
    try:
        while not protocol.decode_all(answer):
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    except socket.timeout:
        pass
    if then:
        conn.sendall(then)
    return protocol.decode_all(answer), conn


def wait_for(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_only_the_token_holder_gets_in_and_its_messages_arrive():
    inbox = Inbox()
    listener = inbox.listener("right-token")
    port = listener.start()
    try:
        wrong, stranger = send(port, protocol.encode(protocol.Hello(token="wrong-token")))
        newer = protocol.Hello(token="right-token", version=protocol.PROTOCOL_VERSION + 1)
        future, _ = send(port, protocol.encode(newer))
        assert [wrong[0].code, future[0].code] == ["unauthorized", "version"]
        assert stranger.recv(10) == b""  # and the connection is closed
        assert not inbox.connected.is_set()

        frame = protocol.FaceFrame(index=7, timestamp_us=1000, width=640, height=480)
        answer, capture = send(port, protocol.encode(protocol.Hello(token="right-token")),
                               then=protocol.encode(frame) + protocol.encode(protocol.Heartbeat(timestamp_us=2)))
        assert isinstance(answer[0], protocol.Status) and answer[0].state == protocol.ACCEPTED
        assert inbox.connected.wait(5.0)  # told right after the answer is sent
        assert wait_for(lambda: len(inbox.messages) == 2)
        assert inbox.messages[0] == frame and isinstance(inbox.messages[1], protocol.Heartbeat)

        busy, _ = send(port, protocol.encode(protocol.Hello(token="right-token")))  # a second one while connected
        assert busy[0].code == "busy"
        assert wait_for(lambda: listener.rejected == 3)
        capture.close()
    finally:
        listener.close()
        listener.join(1.0)


def test_garbage_and_silence_are_dropped_and_a_broken_capture_is_reported():
    inbox = Inbox()
    listener = inbox.listener("token")
    port = listener.start()
    try:
        garbage = socket.create_connection(("127.0.0.1", port))
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
        garbage.settimeout(5)
        assert garbage.recv(10) == b""  # dropped without an answer
        silent = socket.create_connection(("127.0.0.1", port))
        silent.settimeout(5)
        started = time.monotonic()
        assert silent.recv(10) == b""  # no Hello within the timeout: dropped
        assert time.monotonic() - started < 4.0
        assert wait_for(lambda: listener.rejected == 2)

        _, capture = send(port, protocol.encode(protocol.Hello(token="token")), then=b"\xff" * 64)
        assert wait_for(lambda: inbox.broken)
        assert "malformed message" in inbox.broken[0]
        assert listener.rejected == 2  # the capture process itself is not a stranger
        capture.close()
    finally:
        listener.close()
        listener.join(1.0)
    with socket.socket() as refused:
        assert refused.connect_ex(("127.0.0.1", port)) != 0  # closed and joined: nobody listens any more
