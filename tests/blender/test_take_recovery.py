"""Nothing lost on a crash: an interrupted recording comes back as a take when the file is opened."""

from __future__ import annotations

import os
import time
from pathlib import Path

import bpy
import numpy as np

from face_mocap.capture.protocol import Face, FaceFrame
from face_mocap.capture.takes import TakeWriter, read_take, write_take
from face_mocap.ui import takes_io


def crashed_recording(folder: Path, name: str, frames: int = 30) -> Path:
    """A take file left behind by a Blender that died while recording (no END chunk, torn tail)."""
    writer = TakeWriter(folder / f"{name}.fmtake", {"name": name, "source": "webcam:0"}, flush_interval_s=1e9)
    face = Face(np.zeros((478, 3), np.float32), np.full(52, 0.5, np.float32), np.eye(4, dtype=np.float32))
    for i in range(frames):
        writer.append(FaceFrame(i, i * 33_333, 640, 480, [face]))
        if i % 10 == 9:
            writer.flush()
    writer.append(FaceFrame(frames, frames * 33_333, 640, 480, [face]))
    writer.flush()
    data = writer.partial_path.read_bytes()
    writer._file.close()
    writer.partial_path.write_bytes(data[:-50])  # died in the middle of the last chunk
    an_hour_ago = time.time() - 3600
    os.utime(writer.partial_path, (an_hour_ago, an_hour_ago))
    return writer.partial_path


def test_opening_the_file_after_a_crash_recovers_and_lists_the_interrupted_take(addon):
    blend = bpy.data.filepath
    partial = crashed_recording(takes_io.takes_dir(), "Crashed")
    bpy.ops.wm.open_mainfile(filepath=blend)
    takes = bpy.context.scene.face_mocap.takes
    assert [take.name for take in takes] == ["Crashed"]
    assert takes[0].complete and takes[0].frame_count == 30  # every complete chunk, the torn one dropped
    assert not partial.exists()
    recovered = read_take(takes_io.resolve(takes[0]))
    assert recovered.complete and recovered.metadata["recovered"]
    assert "Recovered take 'Crashed' (30 frames)" in bpy.context.window_manager.face_mocap.last_error


def test_a_recording_still_being_written_is_left_alone(addon):
    partial = crashed_recording(takes_io.takes_dir(), "Live")
    os.utime(partial)  # written just now: maybe another Blender's running recording
    bpy.ops.wm.open_mainfile(filepath=bpy.data.filepath)
    assert partial.exists() and len(bpy.context.scene.face_mocap.takes) == 0


def test_refresh_takes_lists_take_files_found_in_the_takes_folder(addon):
    folder = takes_io.takes_dir()
    source = crashed_recording(folder, "Old")
    copied = read_take(source)
    copied.metadata["name"] = "Copied"
    write_take(folder / "Copied.fmtake", copied)  # e.g. from another machine
    assert bpy.ops.facemocap.take_refresh() == {"FINISHED"}
    names = sorted(take.name for take in bpy.context.scene.face_mocap.takes)
    assert names == ["Copied", "Old"] and not source.exists()
    assert bpy.ops.facemocap.take_refresh() == {"FINISHED"}  # listed once, not again
    assert len(bpy.context.scene.face_mocap.takes) == 2
