"""Takes at the length people record: 100,000 frames (about 28 min at 60 fps, 603 MB on disk).

Recovered from a crashed .partial with every frame, listed from the chunk headers alone,
read with memory near the size of the arrays, and the single-chunk takes written before
chunks were bounded read again.
"""

from __future__ import annotations

import json
import resource
import zlib
from pathlib import Path

import numpy as np
import pytest

from face_mocap.capture import takes
from take_corpus import FRAME_US, crashed_partial, header, peak_of, read_chars, synthetic_arrays

FRAMES = 100_000
MiB = 1024 * 1024


def array_bytes(take: takes.Take) -> int:
    return sum(array.nbytes for array in take.arrays().values())


def check_frames(take: takes.Take, count: int) -> None:
    index = np.arange(count)
    np.testing.assert_array_equal(take.frame_indices, index)
    np.testing.assert_array_equal(take.timestamps_us, index * FRAME_US)
    np.testing.assert_array_equal(take.face_found, index % 7 != 0)
    np.testing.assert_array_equal(take.landmarks[:, 0, 0], index.astype(np.float32))
    np.testing.assert_array_equal(take.blendshapes[:, 1], index.astype(np.float32))


def test_a_crashed_100k_frame_recording_is_recovered_listed_cheaply_and_read_in_one_copy(tmp_path):
    partial = crashed_partial(tmp_path / "long.fmtake", FRAMES)
    size = partial.stat().st_size
    try:
        before = read_chars()
        info = takes.take_info(partial)
        info_read = read_chars() - before
        assert (info.frame_count, info.complete) == (FRAMES, False), info.problem
        assert info.largest_chunk_frames <= takes.MAX_CHUNK_FRAMES
        assert info_read < 64 * 1024, f"take_info read {info_read} bytes of a {size}-byte partial"

        recovered, recover_peak = peak_of(lambda: takes.recover_take(partial))
        assert not partial.exists()
        assert recover_peak < 16 * MiB, (f"recovering {size / MiB:.0f} MiB allocated "
                                         f"{recover_peak / MiB:.1f} MiB at peak")

        before = read_chars()
        info = takes.take_info(recovered)
        info_read = read_chars() - before
        assert (info.frame_count, info.complete, info.largest_chunk_frames) == (FRAMES, True, takes.MAX_CHUNK_FRAMES)
        assert info.duration_s == pytest.approx((FRAMES - 1) * FRAME_US / 1e6)
        assert info_read < 64 * 1024, f"take_info read {info_read} bytes of a {size}-byte take"

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        take, read_peak = peak_of(lambda: takes.read_take(recovered))
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        arrays = array_bytes(take)
        bound = arrays + 16 * MiB  # the arrays once, plus small change; the file is never held whole
        assert read_peak <= bound, (f"read_take of a {size / MiB:.0f} MiB take ({arrays / MiB:.0f} MiB of arrays) "
                                    f"peaked at {read_peak / MiB:.0f} MiB allocated (bound {bound / MiB:.0f} MiB; "
                                    f"max RSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MiB)")
        assert take.complete and "ends inside a chunk" in take.metadata["recovered"]  # the torn last chunk
        check_frames(take, FRAMES)
        del take
        one, one_peak = peak_of(lambda: takes.read_take(recovered, 54_321, 54_322))
        assert list(one.frame_indices) == [54_321] and one.complete
        assert one_peak < 32 * MiB, f"reading one frame of {size / MiB:.0f} MiB peaked at {one_peak / MiB:.1f} MiB"
        print(f"\n{FRAMES} frames, {size / MiB:.0f} MiB; take_info read {info_read} bytes; recovery peak "
              f"{recover_peak / MiB:.1f} MiB; read_take peak {read_peak / MiB:.0f} MiB for {arrays / MiB:.0f} MiB "
              f"of arrays; max RSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MiB; one frame: peak "
              f"{one_peak / MiB:.1f} MiB")
    finally:
        for path in tmp_path.iterdir():
            path.unlink()


def legacy_single_chunk_take(path: Path, count: int) -> int:
    """A take as write_take made it before chunks were bounded: every frame in one FRMS chunk."""
    arrays = synthetic_arrays(0, count)
    parts = [np.uint32(count).tobytes()] + [arrays[name].astype(dtype) for name, dtype, _ in takes.frame_fields(0)]
    crc, length = 0, 0
    for part in parts:
        crc = zlib.crc32(part, crc)
        length += memoryview(part).nbytes
    with open(path, "wb") as file:
        file.write(takes.MAGIC + takes.chunk(takes.META, json.dumps({"format_version": 1}).encode()))
        file.write(header(takes.FRAMES, length, crc))
        for part in parts:
            file.write(part)
        file.write(takes.chunk(takes.END, json.dumps({"frame_count": count, "metadata": {}}).encode()))
    return length


def test_takes_written_as_one_chunk_over_256_mib_read_again(tmp_path):
    count = 45_000  # the old reader refused chunks over 256 MiB: 44,553 frames
    path = tmp_path / "legacy.fmtake"
    try:
        chunk_bytes = legacy_single_chunk_take(path, count)
        assert chunk_bytes > 256 * MiB
        info = takes.take_info(path)
        assert (info.frame_count, info.complete, info.largest_chunk_frames) == (count, True, count)
        take, peak = peak_of(lambda: takes.read_take(path))
        arrays = array_bytes(take)
        assert peak <= arrays + 16 * MiB, (f"one {chunk_bytes / MiB:.0f} MiB chunk read with a peak of "
                                           f"{peak / MiB:.0f} MiB for {arrays / MiB:.0f} MiB of arrays")
        assert take.complete
        check_frames(take, count)
    finally:
        path.unlink(missing_ok=True)
