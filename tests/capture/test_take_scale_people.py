"""Takes of two people at the length people record: 100,000 frames of real MediaPipe faces.

The two-person clip (two_people.py: two speakers who walk past each other) tracked by the real
capture process with --num-faces 2, its frames repeated end to end through the take writer
(timestamps and indices continued): a version 3 take of 1.2 GB. Each person is read piece by
piece with their own frames in every piece, in memory bounded by a piece; a recording of it
whose process was killed, with a damaged tail, is recovered with every complete chunk.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import two_people
from face_mocap.capture import takes
from face_mocap.capture.take_people import person_chunks, person_frames, ranked_people
from take_corpus import CONFTEST, peak_of, repeated_take

FRAMES = 100_000
MiB = 1024 * 1024
# A process that records the clip's frames over and over through one TakeWriter, as a long
# recording does, says how many frames are on disk, and waits to be killed.
_RECORDER = """
import runpy, sys
runpy.run_path(sys.argv[1])  # tests/conftest.py imports this checkout as the package face_mocap
from face_mocap.capture.takes import TakeWriter, read_take
source, repeats = read_take(sys.argv[2]), int(sys.argv[4])
step = int(source.timestamps_us[-1] - source.timestamps_us[0]) + int(round(1e6 / source.metadata["fps"]))
writer = TakeWriter(sys.argv[3], source.metadata)
for k in range(repeats):
    arrays = source.arrays()
    arrays["timestamps_us"] = arrays["timestamps_us"] + k * step
    arrays["frame_indices"] = arrays["frame_indices"] + k * source.frame_count
    writer.append_arrays(arrays)
print(writer.frames_written, flush=True)
sys.stdin.readline()
"""


@pytest.fixture(scope="module")
def two_faces(run_capture, facedata, tmp_path_factory) -> Path:
    """The two-person clip tracked once by the real capture process, every face kept (version 3)."""
    folder = tmp_path_factory.mktemp("two_people_scale")
    clip, out = folder / "two_people.avi", folder / "two_people.fmtake"
    two_people.write_clip(facedata, clip)
    result = run_capture("--source", clip, "--out", out, "--num-faces", "2", "--progress", "none", timeout=300)
    assert result.returncode == 0, result.stderr
    return out


def test_each_person_of_a_100k_frame_two_face_take_reads_piece_by_piece_with_their_own_frames(two_faces, tmp_path):
    source = takes.read_take(two_faces)
    assert source.face_slots == 2 and len(ranked_people(source)) == 2, ranked_people(source)
    path = tmp_path / "long_two.fmtake"
    repeats = -(-FRAMES // source.frame_count)
    frames = repeated_take(two_faces, repeats, path)
    size = path.stat().st_size
    assert frames >= FRAMES and takes.take_info(path).frame_count == frames
    try:
        for rank in (1, 2, 3):  # the performer, the other speaker, nobody
            found, landmarks, blendshapes, transforms = person_frames(source, rank)
            seen = {"frames": 0, "found": 0, "pieces": 0}

            def walk() -> None:
                for piece in person_chunks(path, rank):
                    count, start = piece.frame_count, seen["frames"]
                    rows = np.arange(start, start + count) % source.frame_count  # the source frame of each
                    assert 0 < count <= takes.MAX_CHUNK_FRAMES and piece.face_slots == (2 if rank == 1 else 1)
                    np.testing.assert_array_equal(piece.frame_indices, np.arange(start, start + count))
                    # the same person in every frame of every piece, also across the chunk boundaries
                    np.testing.assert_array_equal(piece.face_found, found[rows], err_msg=f"rank {rank} at {start}")
                    np.testing.assert_array_equal(piece.blendshapes, blendshapes[rows])
                    np.testing.assert_array_equal(piece.landmarks[:, ::40], landmarks[rows][:, ::40])
                    np.testing.assert_array_equal(piece.transforms, transforms[rows])
                    seen["frames"] += count
                    seen["found"] += int(piece.face_found.sum())
                    seen["pieces"] += 1

            started = time.perf_counter()
            _, peak = peak_of(walk)
            seconds = time.perf_counter() - started
            print(f"\nrank {rank}: {seen['pieces']} pieces, {seen['found']:,} of {frames:,} frames with the "
                  f"person, {size / MiB:.0f} MiB take, traced peak {peak / MiB:.1f} MiB, {seconds:.1f} s")
            assert seen["frames"] == frames and seen["found"] == repeats * int(found.sum())
            assert (seen["found"] > 0) == (rank < 3)
            piece_bytes = takes.frame_bytes(takes.MAX_CHUNK_FRAMES, 0, slots=2)
            assert peak < 3 * piece_bytes, (
                f"reading rank {rank} of a {size / MiB:.0f} MiB take ({frames:,} frames, 2 faces) peaked at "
                f"{peak / MiB:.1f} MiB allocated; one piece is {piece_bytes / MiB:.1f} MiB")
    finally:
        path.unlink()


def test_a_killed_100k_frame_two_face_recording_with_a_damaged_tail_is_recovered_with_every_whole_chunk(
        two_faces, tmp_path):
    source = takes.read_take(two_faces)
    repeats = -(-FRAMES // source.frame_count)
    final = tmp_path / "killed.fmtake"
    recorder = subprocess.Popen([sys.executable, "-c", _RECORDER, str(CONFTEST), str(two_faces), str(final),
                                 str(repeats)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        written = int(recorder.stdout.readline())
    finally:
        recorder.send_signal(signal.SIGKILL)  # a crash: no end marker, the lock goes with the process
        recorder.wait()
        recorder.stdin.close()
        recorder.stdout.close()
    partial = final.with_name(final.name + takes.PARTIAL_SUFFIX)
    assert written == repeats * source.frame_count and not takes.is_being_written(partial)
    # The last chunk is torn, as when the machine lost power while it was being written.
    last_chunk = takes.frame_bytes(source.frame_count, 0, slots=2) + 12  # the recorder wrote a chunk per pass
    kept = written - source.frame_count
    with open(partial, "r+b") as file:
        file.truncate(partial.stat().st_size - last_chunk // 2)
    size = partial.stat().st_size
    try:
        info = takes.take_info(partial)
        assert (info.frame_count, info.complete) == (kept, False)
        assert "ends inside a chunk" in info.problem, info.problem

        started = time.perf_counter()
        recovered, peak = peak_of(lambda: takes.recover_take(partial))
        seconds = time.perf_counter() - started
        print(f"\nrecovered {kept:,} of {written:,} frames from a {size / MiB:.0f} MiB .partial in {seconds:.1f} s, "
              f"traced peak {peak / MiB:.1f} MiB")
        assert recovered == final and not partial.exists()
        assert peak < 8 * MiB, f"recovering {size / MiB:.0f} MiB allocated {peak / MiB:.1f} MiB at peak"
        info = takes.take_info(final)
        assert (info.frame_count, info.complete, info.metadata["face_slots"]) == (kept, True, 2)
        assert "ends inside a chunk" in info.metadata["recovered"], info.metadata["recovered"]

        rows_seen = 0
        for piece in takes.read_chunks(final):  # every kept frame is the frame that was recorded
            rows = np.arange(rows_seen, rows_seen + piece.frame_count) % source.frame_count
            np.testing.assert_array_equal(piece.person_ids, source.person_ids[rows])
            np.testing.assert_array_equal(piece.other_blendshapes, source.other_blendshapes[rows])
            np.testing.assert_array_equal(piece.blendshapes, source.blendshapes[rows])
            rows_seen += piece.frame_count
        assert rows_seen == kept and piece.complete
    finally:
        for path in tmp_path.iterdir():
            path.unlink()
