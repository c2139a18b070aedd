"""MP4 and QuickTime files (.mp4, .mov, .m4v, .3gp) read without FFmpeg: a tree of boxes (ISO base media).

Standard library only: an import on all cores reads a clip's frame count here before it loads
OpenCV, to start only the tracking processes the clip needs. container_timecode.py reads the
start timecode from the same boxes. Only the 'moov' box is read, wherever it lies in the file.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Iterator

MAX_MOOV_BYTES = 64 * 1024 * 1024  # an hour of 60 fps video has a few MB of sample tables
FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}  # what these files start with


def video_frame_count(path: str | Path) -> int | None:
    """The number of frames in the first video track, from its sample size table; None for
    another container or a file that cannot be read."""
    try:
        with open(path, "rb") as fh:
            moov = find_moov(fh)
    except (OSError, struct.error, ValueError, OverflowError):
        return None
    if moov is None:
        return None
    for kind, start, end in boxes(moov):
        handler = box_path(moov, start, end, b"mdia", b"hdlr") if kind == b"trak" else None
        if handler is None or moov[handler[0] + 8:handler[0] + 12] != b"vide":
            continue
        stbl = box_path(moov, start, end, b"mdia", b"minf", b"stbl")
        for table in (b"stsz", b"stz2"):  # both: version and flags (4), a size field (4), the count (4)
            sizes = stbl and child(moov, *stbl, table)
            if sizes is not None and sizes[1] - sizes[0] >= 12:
                return struct.unpack_from(">I", moov, sizes[0] + 8)[0]
    return None


def boxes(data: bytes | memoryview, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
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


def find_moov(fh: BinaryIO) -> bytes | None:
    """The payload of the top-level 'moov' box, walking box headers only; None for a file that
    does not start with a box of these files (another container)."""
    fh.seek(0, 2)
    file_size = fh.tell()
    pos = 0
    while pos + 8 <= file_size:
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            return None
        size, kind = struct.unpack_from(">I4s", header)
        if pos == 0 and kind not in FIRST_BOXES:
            return None
        skip = 8
        if size == 1 and len(header) == 16:
            size, skip = struct.unpack_from(">Q", header, 8)[0], 16
        elif size == 0:
            size = file_size - pos
        if size < skip or pos + size > file_size:  # a box past the end: a file cut short
            return None
        if kind == b"moov":
            if size - skip > MAX_MOOV_BYTES:
                return None
            fh.seek(pos + skip)
            return fh.read(size - skip)
        pos += size
    return None


def child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """The span of the first `kind` box in data[start:end]."""
    for found, child_start, child_end in boxes(data, start, end):
        if found == kind:
            return child_start, child_end
    return None


def box_path(data: bytes, start: int, end: int, *kinds: bytes) -> tuple[int, int] | None:
    """The span of the box at the end of a path of nested box types."""
    span: tuple[int, int] | None = (start, end)
    for kind in kinds:
        span = child(data, *span, kind)
        if span is None:
            return None
    return span
