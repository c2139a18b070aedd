"""A full disk while recording, at stop and during recovery, on a real 2 MiB tmpfs.

What was written stays in the .partial, holds every frame reported as written and reads
back; finish() says how much was kept; recovery on the full disk fails without touching
the .partial and succeeds once there is room.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from face_mocap.capture import takes
from take_corpus import frame

FILLER_BYTES = 1024 * 1024  # of the 2 MiB: room for about 170 frames, and room to recover them once freed


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs with 1 MiB taken by a filler file (removed to free space)."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        (mount / "filler").write_bytes(b"\0" * FILLER_BYTES)
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def record_until_full(path: Path, flush_every: int) -> takes.TakeWriter:
    """Record frames until a write fails with ENOSPC; the writer, failed."""
    writer = takes.TakeWriter(path, {"name": path.stem}, flush_interval_s=1e9)
    for i in range(100_000):
        try:
            writer.append(frame(i))
            if i % flush_every == flush_every - 1:
                writer.flush()
        except OSError as exc:
            assert exc.errno == 28, exc
            return writer
    raise AssertionError("the 2 MiB disk never filled")


def check_kept(writer: takes.TakeWriter) -> takes.Take:
    assert writer.partial_path.exists(), "the .partial was deleted"
    take = takes.read_take(writer.partial_path)
    assert take.frame_count == writer.frames_written > 0, (
        f"{writer.frames_written} frames reported written, {take.frame_count} read back")
    assert list(take.frame_indices) == list(range(writer.frames_written))
    return take


def test_disk_full_while_recording_keeps_every_written_frame(small_disk):
    writer = record_until_full(small_disk / "Take.fmtake", flush_every=7)
    check_kept(writer)
    kept = writer.frames_written
    with pytest.raises(takes.TakeError, match=rf"disk full: {kept} frames \([\d.]+ s\) kept in Take\.fmtake\.partial"):
        writer.finish({"frame_count": writer.frames_appended})
    check_kept(writer)
    size = writer.partial_path.stat().st_size
    data = writer.partial_path.read_bytes()
    recovery_failed = rf"could not recover 'Take\.fmtake\.partial' \({kept} frames, kept in it\)"
    with pytest.raises(takes.TakeError, match=recovery_failed):
        takes.recover_take(writer.partial_path)
    assert writer.partial_path.read_bytes() == data, "a failed recovery changed the .partial"
    assert sorted(p.name for p in small_disk.iterdir()) == ["Take.fmtake.partial", "filler"]
    (small_disk / "filler").unlink()
    recovered = takes.read_take(takes.recover_take(writer.partial_path))
    assert recovered.complete and recovered.frame_count == kept, f"{kept} frames in {size} bytes"
    assert not writer.partial_path.exists()


def test_disk_full_at_stop_keeps_what_was_written_before(small_disk):
    path = small_disk / "Stop.fmtake"
    writer = takes.TakeWriter(path, {"name": "Stop"}, flush_interval_s=1e9)
    for i in range(100):
        writer.append(frame(i))
    writer.flush()  # 100 frames written; the rest of the disk is then taken by something else
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    (small_disk / "other").write_bytes(b"\0" * free)
    for i in range(100, 130):
        writer.append(frame(i))  # queued, written by finish()
    with pytest.raises(takes.TakeError, match=r"disk full: 100 frames \(3\.3 s\) kept in Stop\.fmtake\.partial"):
        writer.finish()
    check_kept(writer)
    assert not path.exists()
