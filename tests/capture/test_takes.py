"""Take files: atomic finish, crash recovery, damaged chunks, files that are not takes."""

from __future__ import annotations

import numpy as np
import pytest

from face_mocap.capture import take_recover, takes
from take_corpus import frame, good_take_bytes, recording_elsewhere, synthetic_arrays


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


def damaged_take(path):
    """Three chunks of 5 frames, the second one damaged."""
    write_chunks(path, 3).finish()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the second frame chunk
    path.write_bytes(bytes(data))
    return path


def test_a_corrupt_chunk_stops_reading_there_with_a_reason(tmp_path):
    take = takes.read_take(damaged_take(tmp_path / "c.fmtake"))
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


def test_write_take_splits_a_long_take_into_bounded_chunks(tmp_path):
    take = takes.read_take(takes.write_take(tmp_path / "s.fmtake", _take(5000)))
    info = takes.take_info(tmp_path / "s.fmtake")
    per_chunk = takes.frame_bytes(takes.MAX_CHUNK_FRAMES, 0)
    assert info.largest_chunk_frames == takes.MAX_CHUNK_FRAMES, f"chunks of {per_chunk} bytes at most"
    assert (info.frame_count, info.complete, take.frame_count) == (5000, True, 5000)
    assert info.duration_s == pytest.approx(4999 * 0.016667)
    np.testing.assert_array_equal(take.frame_indices, np.arange(5000))


def _take(count: int) -> takes.Take:
    return takes.Take(metadata={"format_version": 1, "name": "s"}, **synthetic_arrays(0, count))


def test_frames_with_timestamps_that_do_not_advance_are_dropped_counted_and_recorded(tmp_path):
    writer = takes.TakeWriter(tmp_path / "t.fmtake", {}, flush_interval_s=1e9)
    for i, stamp in enumerate([0, 10, 10, 5, 20, 30, 25]):
        writer.append(takes.FaceFrame(i, stamp, 640, 480, []))
    assert (writer.frames_appended, writer.frames_dropped) == (4, 3)
    take = takes.read_take(writer.finish())
    np.testing.assert_array_equal(take.timestamps_us, [0, 10, 20, 30])
    assert take.metadata["frames_dropped"] == 3


def test_forward_only_lets_older_takes_with_backward_timestamps_bake():
    take = _take(6)
    take.timestamps_us = np.array([0, 10, 5, 20, 20, 30])
    fixed, dropped = takes.forward_only(take)
    assert dropped == 2 and fixed.frame_count == 4
    np.testing.assert_array_equal(fixed.frame_indices, [0, 1, 3, 5])
    assert takes.forward_only(fixed) == (fixed, 0)


def test_finish_after_a_write_error_raises_with_the_kept_count(tmp_path):
    writer = takes.TakeWriter(tmp_path / "w.fmtake", {}, flush_interval_s=1e9)
    for i in range(31):
        writer.append(frame(i))
    writer.flush()
    writer._fail(OSError(28, "No space left on device"))  # what _write does on ENOSPC
    with pytest.raises(OSError, match="no longer written.*disk full"):
        writer.append(frame(31))
    with pytest.raises(takes.TakeError, match=r"disk full: 31 frames \(1\.0 s\) kept in w\.fmtake\.partial"):
        writer.finish()
    assert takes.take_info(writer.partial_path).frame_count == 31 and not (tmp_path / "w.fmtake").exists()


def test_close_keeps_the_partial_and_abort_deletes_it(tmp_path):
    kept = write_chunks(tmp_path / "k.fmtake", 2)
    kept.append(frame(10))
    kept.close()
    info = takes.take_info(kept.partial_path)
    assert (info.frame_count, info.complete) == (11, False) and "not finished" in info.problem
    dropped = write_chunks(tmp_path / "d.fmtake", 2)
    dropped.abort()
    assert not dropped.partial_path.exists()


@pytest.mark.parametrize("platform, module", [("linux", "fcntl"), ("darwin", "fcntl"), ("win32", "msvcrt")])
def test_lock_plan_per_platform(platform, module):
    plan = takes.take_lock.lock_plan(platform)
    assert plan.module == module
    if module == "msvcrt":  # Windows locks are mandatory: the locked byte lies beyond any take's end
        assert plan.offset >= 1 << 40


def test_a_recording_of_this_process_is_being_written_until_it_is_closed(tmp_path):
    writer = write_chunks(tmp_path / "r.fmtake", 1)
    assert takes.is_being_written(writer.partial_path)
    with pytest.raises(takes.TakeError, match="being recorded right now"):
        takes.recover_take(writer.partial_path)
    writer.close()
    assert not takes.is_being_written(writer.partial_path)
    assert takes.read_take(takes.recover_take(writer.partial_path)).frame_count == 5


def test_another_process_recording_is_left_alone_until_it_dies(tmp_path):
    path = tmp_path / "other.fmtake"
    partial = path.with_name(path.name + takes.PARTIAL_SUFFIX)
    with recording_elsewhere(path, frames=12):
        before = partial.read_bytes()
        assert takes.is_being_written(partial)
        with pytest.raises(takes.TakeError, match="being recorded right now"):
            takes.recover_take(partial)
        with pytest.raises(OSError, match="another program is recording"):
            takes.TakeWriter(path, {})
        assert partial.read_bytes() == before  # neither recovery nor a new writer touched it
    # the other process crashed: its lock went with it
    assert not takes.is_being_written(partial)
    take = takes.read_take(takes.recover_take(partial))
    assert take.frame_count == 12 and take.complete and not partial.exists()


def test_a_frame_rate_that_is_no_number_is_written_as_unknown(tmp_path):
    writer = takes.TakeWriter(tmp_path / "f.fmtake", {"fps": float("nan"), "scene_fps": 1e9})
    metadata = takes.read_take(writer.finish()).metadata
    assert (metadata["fps"], metadata["scene_fps"]) == (0.0, 0.0)


def test_a_copy_that_does_not_read_back_is_never_put_in_place(tmp_path, monkeypatch):
    partial = tmp_path / "v.fmtake.partial"
    partial.write_bytes(good_take_bytes(finished=False))
    copy = take_recover._copy

    def copy_then_damage(source, name, staged):  # as a disk that returns other bytes than were written
        frames = copy(source, name, staged)
        data = bytearray(staged.read_bytes())
        data[len(data) // 2] ^= 0xFF
        staged.write_bytes(bytes(data))
        return frames

    monkeypatch.setattr(take_recover, "_copy", copy_then_damage)
    with pytest.raises(takes.TakeError, match=r"\(15 frames, kept in it\): the recovered copy does not read back"):
        takes.recover_take(partial)
    assert partial.read_bytes() == good_take_bytes(finished=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.fmtake.partial"]


def test_a_take_finished_but_not_renamed_is_recovered_with_its_end_metadata(tmp_path):
    writer = write_chunks(tmp_path / "n.fmtake", 2)
    writer.flush()
    writer._write(takes.chunk(takes.END, takes.encode_json({"frame_count": 10, "metadata": {"note": "kept"}})))
    writer.close()  # as if the rename into place failed
    take = takes.read_take(takes.recover_take(writer.partial_path))
    assert take.complete and take.frame_count == 10 and take.metadata["note"] == "kept"
    assert take.metadata["recovered"] == "the take was finished but not renamed into place"


def test_a_range_of_frames_reads_like_a_slice_of_the_whole_take(tmp_path):
    path = takes.write_take(tmp_path / "r.fmtake", _take(5000))
    full = takes.read_take(path).arrays()
    for first, last in [(0, 5000), (0, 1), (2047, 2049), (3000, 5000), (4999, 5000), (10, 10), (4000, 9999)]:
        part = takes.read_take(path, first, last)
        assert part.complete, (first, last, part.problem)
        for name, array in part.arrays().items():
            np.testing.assert_array_equal(array, full[name][first:last], err_msg=f"{name}[{first}:{last}]")


def test_reading_in_pieces_gives_every_frame_once_in_order_a_few_chunks_at_a_time(tmp_path):
    path = tmp_path / "p.fmtake"
    writer = write_chunks(path, 9, per_chunk=7)  # 63 frames in 9 chunks of 7
    writer.append_arrays(synthetic_arrays(63, 40))  # and one chunk bigger than a piece
    writer.finish({"note": "done"})
    full = takes.read_take(path).arrays()
    pieces = list(takes.read_chunks(path, max_frames=20))
    assert [piece.frame_count for piece in pieces] == [14, 14, 14, 14, 7, 40]  # whole chunks, <= 20 or one
    assert all(piece.metadata["note"] == "done" for piece in pieces)  # the end marker's metadata too
    for name, array in full.items():
        np.testing.assert_array_equal(np.concatenate([getattr(p, name) for p in pieces]), array, err_msg=name)


def test_reading_a_damaged_take_in_pieces_stops_where_read_take_does(tmp_path):
    pieces = list(takes.read_chunks(damaged_take(tmp_path / "c.fmtake"), max_frames=5))
    assert [piece.frame_count for piece in pieces] == [5, 0]
    assert not pieces[-1].complete and "checksum" in pieces[-1].problem
    with pytest.raises(takes.TakeError, match="cannot read take .*missing.fmtake"):
        next(takes.read_chunks(tmp_path / "missing.fmtake"))


def test_forward_only_over_pieces_drops_what_it_drops_from_the_whole_take():
    take = _take(9)
    take.timestamps_us = np.array([0, 10, 5, 20, 20, 30, 15, 30, 40])
    whole, dropped = takes.forward_only(take)
    keep = takes.ForwardOnly()
    pieces = [keep(takes.Take(metadata=take.metadata, **{k: v[i:i + 3] for k, v in take.arrays().items()}))
              for i in range(0, 9, 3)]
    assert keep.dropped == dropped == 4
    np.testing.assert_array_equal(np.concatenate([p.frame_indices for p in pieces]), whole.frame_indices)
