"""Takes of two people at the length people record: 100,000 frames of real MediaPipe faces.

The two-person clip (two_people.py: two speakers who walk past each other) tracked by the real
capture process with --num-faces 2, its frames repeated end to end through the take writer
(timestamps and indices continued): a version 3 take of 1.2 GB. Each person is read piece by
piece with their own frames in every piece, in memory bounded by a piece; a recording of it
whose process was killed, with a torn tail and a damaged chunk halfway, is recovered with every
sound chunk, the ones after the damage too.
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


def test_a_killed_100k_frame_two_face_recording_with_damage_is_recovered_with_every_sound_chunk(two_faces, tmp_path):
    source = takes.read_take(two_faces)
    per_chunk = source.frame_count  # the recorder writes a chunk per pass over the clip
    repeats = -(-FRAMES // per_chunk)
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
    assert written == repeats * per_chunk and not takes.is_being_written(partial)
    chunk_bytes = takes.frame_bytes(per_chunk, 0, slots=2) + 12
    first_chunk = partial.stat().st_size - repeats * chunk_bytes
    # The last chunk is torn, as when the machine lost power while it was being written, and
    # one chunk halfway is damaged (a bad sector): the chunks after it are sound.
    bad = repeats // 2
    with open(partial, "r+b") as file:
        file.seek(first_chunk + bad * chunk_bytes + chunk_bytes // 2)
        byte = file.read(1)[0]
        file.seek(-1, 1)
        file.write(bytes([byte ^ 0x55]))
        file.truncate(partial.stat().st_size - chunk_bytes // 2)
    size = partial.stat().st_size
    kept = written - 2 * per_chunk
    try:
        info = takes.take_info(partial)  # the headers only: the damaged chunk's frames are counted
        assert (info.frame_count, info.complete) == (kept + per_chunk, False)
        assert "ends inside a chunk" in info.problem, info.problem

        started = time.perf_counter()
        recovered, peak = peak_of(lambda: takes.recover_take(partial))
        seconds = time.perf_counter() - started
        why = takes.take_info(final).metadata["recovered"]
        print(f"\nrecovered {kept:,} of {written:,} frames from a {size / MiB:.0f} MiB .partial in {seconds:.1f} s, "
              f"traced peak {peak / MiB:.1f} MiB: {why}")
        assert recovered == final and not partial.exists()
        assert peak < 8 * MiB, f"recovering {size / MiB:.0f} MiB allocated {peak / MiB:.1f} MiB at peak"
        info = takes.take_info(final)
        assert (info.frame_count, info.complete, info.metadata["face_slots"]) == (kept, True, 2)
        assert f"1 damaged chunk(s) left out, {per_chunk} frames" in why and "ends inside a chunk" in why, why

        indices = []
        for piece in takes.read_chunks(final):  # every kept frame is the frame that was recorded
            rows = piece.frame_indices % per_chunk
            np.testing.assert_array_equal(piece.person_ids, source.person_ids[rows])
            np.testing.assert_array_equal(piece.other_blendshapes, source.other_blendshapes[rows])
            np.testing.assert_array_equal(piece.blendshapes, source.blendshapes[rows])
            indices.append(piece.frame_indices)
        missing = np.setdiff1d(np.arange(written), np.concatenate(indices))
        np.testing.assert_array_equal(missing, np.r_[bad * per_chunk:(bad + 1) * per_chunk,
                                                     written - per_chunk:written])
        assert piece.complete
    finally:
        for path in tmp_path.iterdir():
            path.unlink()
