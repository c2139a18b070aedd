"""Take files: atomic finish, crash recovery, damaged chunks, files that are not takes."""

from __future__ import annotations

import numpy as np
import pytest

from face_mocap.capture import takes
from face_mocap.capture.protocol import Face, FaceFrame


def frame(i: int, face: bool = True) -> FaceFrame:
    faces = [Face(landmarks=np.full((478, 3), i, np.float32), blendshapes=np.full(52, i / 100, np.float32),
                  transform=np.eye(4, dtype=np.float32) * (i + 1))] if face else []
    return FaceFrame(index=i, timestamp_us=i * 33_333, width=640, height=480, faces=faces)


def write_chunks(path, chunks: int, per_chunk: int = 5) -> takes.TakeWriter:
    """A writer left open after `chunks` flushed chunks (as if the process died now)."""
    writer = takes.TakeWriter(path, {"image_size": [640, 480]}, flush_interval_s=1e9)
    for c in range(chunks):
        for i in range(c * per_chunk, (c + 1) * per_chunk):
            writer.append(frame(i, face=i % 3 != 0))
        writer.flush()
    return writer


def test_finished_take_reads_back_every_frame_including_no_face_frames(tmp_path):
    path = tmp_path / "a.fmtake"
    writer = write_chunks(path, 3)
    assert not path.exists() and writer.partial_path.exists()  # nothing final until finish()
    writer.finish({"note": "done"})
    assert path.exists() and not writer.partial_path.exists()
    take = takes.read_take(path)
    assert take.complete and take.problem == ""
    assert take.frame_count == 15 and take.metadata["note"] == "done"
    np.testing.assert_array_equal(take.face_found, [i % 3 != 0 for i in range(15)])
    assert np.isnan(take.blendshapes[0]).all() and take.blendshapes[1, 0] == pytest.approx(0.01)
    np.testing.assert_array_equal(take.timestamps_us, np.arange(15) * 33_333)


def test_crash_recovery_reads_the_complete_chunks_of_a_truncated_file(tmp_path):
    writer = write_chunks(tmp_path / "b.fmtake", 3)
    data = writer.partial_path.read_bytes()
    writer.abort()
    crashed = tmp_path / "crashed.fmtake.partial"
    crashed.write_bytes(data[:-100])  # died in the middle of the third chunk
    take = takes.read_take(crashed)
    assert not take.complete and "ends inside a chunk" in take.problem
    assert take.frame_count == 10
    np.testing.assert_array_equal(take.frame_indices, np.arange(10))
    crashed.write_bytes(data)  # died after the third chunk, before finish()
    take = takes.read_take(crashed)
    assert take.frame_count == 15 and not take.complete and "not finished" in take.problem


def test_recover_take_turns_an_interrupted_recording_into_a_finished_take(tmp_path):
    writer = write_chunks(tmp_path / "b.fmtake", 2)
    data = writer.partial_path.read_bytes()
    writer.abort()
    crashed = tmp_path / "crashed.fmtake.partial"
    crashed.write_bytes(data[:-7])  # died while writing the second chunk
    recovered = takes.recover_take(crashed)
    assert recovered == tmp_path / "crashed.fmtake"
    assert not crashed.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["crashed.fmtake"]
    take = takes.read_take(recovered)
    assert take.complete and take.frame_count == 5 and "ends inside a chunk" in take.metadata["recovered"]
    with pytest.raises(takes.TakeError, match="not an interrupted take"):
        takes.recover_take(recovered)


def test_recover_take_never_overwrites_a_finished_take(tmp_path):
    write_chunks(tmp_path / "d.fmtake", 1).finish()
    finished = (tmp_path / "d.fmtake").read_bytes()
    stale = write_chunks(tmp_path / "e.fmtake", 1)
    stale.partial_path.rename(tmp_path / "d.fmtake.partial")
    with pytest.raises(takes.TakeError, match="already exists"):
        takes.recover_take(tmp_path / "d.fmtake.partial")
    assert (tmp_path / "d.fmtake").read_bytes() == finished and (tmp_path / "d.fmtake.partial").exists()


def test_a_corrupt_chunk_stops_reading_there_with_a_reason(tmp_path):
    path = tmp_path / "c.fmtake"
    write_chunks(path, 3).finish()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the second frame chunk
    path.write_bytes(bytes(data))
    take = takes.read_take(path)
    assert not take.complete and "checksum" in take.problem
    assert take.frame_count == 5


@pytest.mark.parametrize("content, match", [
    (b"", "not a Face Mocap take"),
    (b"PK\x03\x04 a zip file", "not a Face Mocap take"),
    (takes.MAGIC + b"\x00" * 4, "no readable header"),
])
def test_files_that_are_not_takes_raise_take_error(tmp_path, content, match):
    path = tmp_path / "x.fmtake"
    path.write_bytes(content)
    with pytest.raises(takes.TakeError, match=match):
        takes.read_take(path)


def test_missing_take_raises_take_error(tmp_path):
    with pytest.raises(takes.TakeError, match="cannot read take"):
        takes.read_take(tmp_path / "missing.fmtake")


def test_write_take_round_trips_an_in_memory_take(tmp_path):
    write_chunks(tmp_path / "d.fmtake", 2).finish()
    original = takes.read_take(tmp_path / "d.fmtake")
    takes.write_take(tmp_path / "e.fmtake", original)
    copy = takes.read_take(tmp_path / "e.fmtake")
    assert copy.complete
    np.testing.assert_array_equal(copy.landmarks, original.landmarks)
    np.testing.assert_array_equal(copy.face_found, original.face_found)
