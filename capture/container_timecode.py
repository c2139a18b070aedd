"""A video file's start timecode from its container, read without FFmpeg (OpenCV does not expose it).

MP4 and QuickTime (.mov, .m4v, .3gp) files are ISO base media files: a tree of boxes. Two
things in them give a start time:
1. a timecode track (handler 'tmcd'), as cameras and editors write: its sample description
   holds the rate and the drop-frame flag, its first sample the start as a frame number;
2. otherwise the movie header's creation time (seconds since 1904, UTC), as the local time of
   day it was recorded (a wall clock, like a live recording's), when the file sets one.
Other containers (AVI, MPEG, Matroska) give none. Only the 'moov' box is read (at most
MAX_MOOV_BYTES), wherever it lies in the file.
"""

from __future__ import annotations

import datetime
import struct
from pathlib import Path
from typing import BinaryIO, Iterator, NamedTuple

from .timecode import Timecode, TimecodeError, clock_rate, exact_rate

MAX_MOOV_BYTES = 64 * 1024 * 1024
_EPOCH_1904 = datetime.datetime(1904, 1, 1, tzinfo=datetime.timezone.utc)
_CONTAINERS = {b"trak", b"mdia", b"minf", b"stbl"}
_TMCD_DROP_FRAME = 0x1  # flags of a 'tmcd' sample description


class StartTimecode(NamedTuple):
    """Where a take starts: the timecode text, its frame rate and where it came from (in words)."""

    text: str
    rate: float
    source: str

    def later(self, seconds: float) -> "StartTimecode":
        """The timecode `seconds` after this one (a take that starts past the video's first frame)."""
        if seconds <= 0:
            return self
        code = Timecode.parse(self.text)
        count = code.frame_count(self.rate) + seconds * exact_rate(self.rate)
        return self._replace(text=str(Timecode.from_frame_count(count, self.rate, code.drop_frame)))

    def metadata(self) -> dict:
        """The take metadata keys (capture/TAKES.md)."""
        return {"start_timecode": self.text, "timecode_rate": self.rate, "timecode_source": self.source}


def wall_clock(when: datetime.datetime, rate: float, source: str) -> StartTimecode:
    """The local time of day of `when` as a timecode for a clip at `rate` (counted at its
    clock_rate; drop-frame at 29.97 and 59.94)."""
    rate = clock_rate(rate)
    local = when.astimezone()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    code = Timecode.from_seconds((local - midnight).total_seconds(), rate)
    return StartTimecode(str(code), float(rate), source)


def container_timecode(path: str | Path, fps: float) -> StartTimecode | None:
    """The start timecode a video file's container gives (see the module docstring); None when it
    gives none or cannot be read. fps: the video's rate, for a creation time's frames."""
    try:
        with open(path, "rb") as fh:
            moov = _find_moov(fh)
            if moov is None:
                return None
            return _tmcd_start(fh, moov) or _creation_time(moov, fps)
    except (OSError, struct.error, TimecodeError, ValueError, OverflowError):
        return None


def _boxes(data: bytes | memoryview, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield bytes(kind), pos + header, pos + size
        pos += size


def _find_moov(fh: BinaryIO) -> bytes | None:
    """The payload of the top-level 'moov' box, walking box headers only."""
    fh.seek(0, 2)
    file_size = fh.tell()
    pos = 0
    while pos + 8 <= file_size:
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            return None
        size, kind = struct.unpack_from(">I4s", header)
        skip = 8
        if size == 1 and len(header) == 16:
            size, skip = struct.unpack_from(">Q", header, 8)[0], 16
        elif size == 0:
            size = file_size - pos
        if size < skip:
            return None
        if kind == b"moov":
            if size - skip > MAX_MOOV_BYTES:
                return None
            fh.seek(pos + skip)
            return fh.read(size - skip)
        pos += size
    return None


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, child_start, child_end in _boxes(data, start, end):
        if found == kind:
            return child_start, child_end
    return None


def _path(data: bytes, start: int, end: int, *kinds: bytes) -> tuple[int, int] | None:
    span: tuple[int, int] | None = (start, end)
    for kind in kinds:
        span = _child(data, *span, kind)
        if span is None:
            return None
    return span


def _tmcd_start(fh: BinaryIO, moov: bytes) -> StartTimecode | None:
    """The first sample of a timecode track, as a timecode at the track's rate."""
    for kind, start, end in _boxes(moov):
        if kind != b"trak":
            continue
        handler = _path(moov, start, end, b"mdia", b"hdlr")
        if handler is None or moov[handler[0] + 8:handler[0] + 12] != b"tmcd":
            continue
        stbl = _path(moov, start, end, b"mdia", b"minf", b"stbl")
        stsd = stbl and _child(moov, *stbl, b"stsd")
        if stsd is None:
            continue
        entries = stsd[0] + 8  # version, flags, entry count
        entry = next(_boxes(moov, entries, stsd[1]), None)
        if entry is None or entry[0] != b"tmcd":
            continue
        # reserved (6), data reference index (2), reserved (4), flags, timescale, frame duration, frames
        flags, timescale, duration, frames = struct.unpack_from(">IIIB", moov, entry[1] + 12)
        offset = _first_chunk_offset(moov, stbl)
        if not (timescale and duration and frames) or offset is None:
            continue
        fh.seek(offset)
        raw = fh.read(4)
        if len(raw) < 4:
            continue
        number = struct.unpack(">I", raw)[0]
        rate = round(timescale / duration, 6)  # 29.97: 30000 / 1001; frames (30) is its nominal rate
        code = Timecode.from_frame_count(number, rate, drop_frame=bool(flags & _TMCD_DROP_FRAME))
        return StartTimecode(str(code), rate, "timecode track")
    return None


def _first_chunk_offset(moov: bytes, stbl: tuple[int, int]) -> int | None:
    """Where a track's first chunk of samples lies in the file ('stco' or 'co64')."""
    for kind, fmt in ((b"stco", ">I"), (b"co64", ">Q")):
        box = _child(moov, *stbl, kind)
        if box is not None:
            count = struct.unpack_from(">I", moov, box[0] + 4)[0]
            return struct.unpack_from(fmt, moov, box[0] + 8)[0] if count else None
    return None


def _creation_time(moov: bytes, fps: float) -> StartTimecode | None:
    mvhd = _child(moov, 0, len(moov), b"mvhd")
    if mvhd is None:
        return None
    version = moov[mvhd[0]]
    seconds = struct.unpack_from(">Q" if version == 1 else ">I", moov, mvhd[0] + 4)[0]
    if not seconds:  # unset: many encoders write 0
        return None
    when = _EPOCH_1904 + datetime.timedelta(seconds=seconds)
    return wall_clock(when, fps, "creation time")
