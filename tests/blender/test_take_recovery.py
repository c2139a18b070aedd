"""Nothing lost on a crash: an interrupted recording comes back as a take when the file is opened."""

from __future__ import annotations

import os
from pathlib import Path

import bpy
import numpy as np

from face_mocap.capture.protocol import Face, FaceFrame
from face_mocap.capture.take_read import TakeScan
from face_mocap.capture.takes import TakeWriter, read_take, write_take
from face_mocap.ui import takes_io
from take_corpus import recording_elsewhere


def crashed_recording(folder: Path, name: str, frames: int = 30) -> Path:
    """A take file left behind by a Blender that died while recording (no END chunk, torn tail)."""
    writer = TakeWriter(folder / f"{name}.fmtake", {"name": name, "source": "webcam:0"}, flush_interval_s=1e9)
    face = Face(np.zeros((478, 3), np.float32), np.full(52, 0.5, np.float32), np.eye(4, dtype=np.float32))
    for i in range(frames):
        writer.append(FaceFrame(i, i * 33_333, 640, 480, [face]))
        if i % 10 == 9:
            writer.flush()
    writer.append(FaceFrame(frames, frames * 33_333, 640, 480, [face]))
    writer.close()  # the process dies: its lock goes with it
    data = writer.partial_path.read_bytes()
    writer.partial_path.write_bytes(data[:-50])  # died in the middle of the last chunk
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
    runtime = bpy.context.window_manager.face_mocap
    assert "Recovered take 'Crashed' (30 frames)" in runtime.last_note
    assert runtime.last_error == "", "a successful recovery is information, not an error"


def test_a_damaged_part_of_a_crashed_recording_is_left_out_and_said_so(addon):
    partial = crashed_recording(takes_io.takes_dir(), "Damaged")
    with open(partial, "r+b") as file:
        second = list(TakeScan(file, partial.name).frames())[1]  # frames 10-19, a bad sector in them
        file.seek(second.payload + second.length // 2)
        file.write(b"\xff\x00\xff")
    bpy.ops.wm.open_mainfile(filepath=bpy.data.filepath)
    takes = bpy.context.scene.face_mocap.takes
    assert [(take.name, take.frame_count, take.complete) for take in takes] == [("Damaged", 20, True)]
    assert list(read_take(takes_io.resolve(takes[0])).frame_indices) == [*range(10), *range(20, 30)]
    note = bpy.context.window_manager.face_mocap.last_note
    assert "Recovered take 'Damaged' (20 frames)" in note and "10 frames in damaged parts" in note, note


def test_a_crash_a_moment_ago_is_recovered_at_once(addon):
    partial = crashed_recording(takes_io.takes_dir(), "Just now")
    os.utime(partial)  # changed this very moment: recovered anyway, nobody holds it
    bpy.ops.wm.open_mainfile(filepath=bpy.data.filepath)
    takes = bpy.context.scene.face_mocap.takes
    assert [take.name for take in takes] == ["Just now"] and takes[0].frame_count == 30
    assert not partial.exists()


def test_recordings_still_being_written_here_or_in_another_blender_are_left_alone(addon):
    folder = takes_io.takes_dir()
    here = TakeWriter(folder / "Here.fmtake", {"name": "Here"})
    try:
        with recording_elsewhere(folder / "Elsewhere.fmtake", frames=20):
            assert bpy.ops.facemocap.take_refresh() == {"FINISHED"}
            assert len(bpy.context.scene.face_mocap.takes) == 0
            assert here.partial_path.exists() and (folder / "Elsewhere.fmtake.partial").exists()
    finally:
        here.abort()
    assert bpy.ops.facemocap.take_refresh() == {"FINISHED"}  # the other Blender crashed: now it is recovered
    takes = bpy.context.scene.face_mocap.takes
    assert [(take.name, take.frame_count, take.complete) for take in takes] == [("other", 20, True)]


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
