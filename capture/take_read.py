"""Reading takes as a stream: chunk headers first, frame payloads only when asked, never the whole file.

`take_info` walks from chunk header to chunk header (a few bytes per chunk), `read_take`
allocates the arrays once from that walk and reads each payload straight into them,
`read_chunks` gives the frames a few chunks at a time (the bake streams a take this way), and
`copy_chunk` moves a payload in 1 MiB pieces. Any malformed input is a TakeError.
"""

from __future__ import annotations

import math
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

from .take_format import (
    CHUNK_HEADER, COUNT, END, FRAMES, MAGIC, MAX_CHUNK_FRAMES, META, MAX_JSON_BYTES, TAGS, TIMESTAMP, Take, TakeError,
    TakeInfo, check_end, check_metadata, face_slots, frame_bytes, frame_fields, has_geometry, no_geometry, parse_json,
)

PIECE_BYTES = 1 << 20  # copies and checksum passes hold at most this much of a payload


class Chunk(NamedTuple):
    """One chunk header: where it is, what it says; `count` is the frame count of a FRMS chunk."""

    tag: bytes
    offset: int
    length: int
    crc: int
    count: int = 0

    @property
    def payload(self) -> int:
        return self.offset + CHUNK_HEADER.size

    @property
    def end(self) -> int:
        return self.payload + self.length


class TakeScan:
    """One pass over an open take file: the header at once, then frame chunk headers on demand.

    After `frames()` is exhausted: `problem` says why it stopped early (empty when it reached
    a clean end), `end` holds the parsed END_ chunk (frame count, merged metadata) if any."""

    def __init__(self, file: BinaryIO, name: str) -> None:
        self.file, self.name = file, name
        self.size = os.fstat(file.fileno()).st_size
        self.problem = ""
        self.end: tuple[int, dict] | None = None
        self.channel_count, self.geometry, self.slots = 0, True, 1  # until the header says otherwise
        if self._read_at(0, len(MAGIC)) != MAGIC:
            raise TakeError(f"'{name}' is not a Face Mocap take file")
        first = self._header(len(MAGIC))
        meta = self.read_small(first) if first is not None and first.tag == META else None
        if meta is None:
            raise TakeError(f"take '{name}' has no readable header" + (f" ({self.problem})" if self.problem else ""))
        try:
            self.metadata = check_metadata(parse_json(meta, "the header"))
        except TakeError as exc:
            raise TakeError(f"take '{name}': {exc}") from None
        self.meta_payload = meta
        self.channel_count = len(self.metadata.get("channel_names", []))
        self.geometry = has_geometry(self.metadata)
        self.slots = face_slots(self.metadata)
        self._next = first.end

    def frames(self) -> Iterator[Chunk]:
        """The FRMS chunks with a sound header, in order, up to END_ or the first damage."""
        while (chunk := self._header(self._next)) is not None:
            self._next = chunk.end
            if chunk.tag == FRAMES:
                yield chunk
            elif chunk.tag == END:
                self._read_end(chunk)
                return
            else:
                self.problem = f"a second header chunk at byte {chunk.offset}"
                return

    def _read_end(self, chunk: Chunk) -> None:
        payload = self.read_small(chunk)
        if payload is None:
            return
        try:
            self.end = check_end(parse_json(payload, "the end marker"), self.metadata)
        except TakeError as exc:
            self.problem = f"corrupt end marker: {exc}"

    def outcome(self, frames_read: int) -> tuple[dict, bool, str]:
        """(metadata with the END_ additions, complete, problem) once the frames are read."""
        problem = self.problem
        if not problem and self.end is None:
            problem = "the take was not finished (recording interrupted)"
        elif not problem and self.end[0] != frames_read:
            problem = f"the end marker counts {self.end[0]} frames, the file holds {frames_read}"
        metadata = self.end[1] if self.end is not None else self.metadata
        return metadata, not problem, problem

    def _header(self, offset: int) -> Chunk | None:
        """The chunk header at `offset`, checked against the file's size; None (and `problem`) if unsound."""
        if offset >= self.size:
            return None
        raw = self._read_at(offset, CHUNK_HEADER.size)
        if len(raw) < CHUNK_HEADER.size:
            self.problem = "the file ends inside a chunk header"
            return None
        tag, length, crc = CHUNK_HEADER.unpack(raw)
        if tag not in TAGS:
            self.problem = f"unknown or corrupt chunk at byte {offset}"
            return None
        if length > self.size - offset - CHUNK_HEADER.size:  # a length is never trusted beyond the file
            self.problem = f"the file ends inside a chunk (at byte {offset})"
            return None
        chunk = Chunk(tag, offset, length, crc)
        if tag != FRAMES:
            return chunk
        count_bytes = self._read_at(chunk.payload, COUNT.size)
        count = COUNT.unpack(count_bytes)[0] if len(count_bytes) == COUNT.size else -1
        if count < 0 or length != frame_bytes(count, self.channel_count, self.geometry, self.slots):
            self.problem = f"damaged frame chunk at byte {offset} ({length} bytes for {count} frames)"
            return None
        return chunk._replace(count=count)

    def read_small(self, chunk: Chunk) -> bytes | None:
        """The whole payload of a META or END_ chunk, checksum verified; None (and `problem`) if not."""
        if chunk.length > MAX_JSON_BYTES:
            self.problem = f"a {chunk.length}-byte {chunk.tag.decode()} chunk (at most {MAX_JSON_BYTES})"
            return None
        payload = self._read_at(chunk.payload, chunk.length)
        if len(payload) != chunk.length or zlib.crc32(payload) != chunk.crc:
            self.problem = f"checksum mismatch at byte {chunk.offset}"
            return None
        return payload

    def timestamp(self, chunk: Chunk, row: int) -> int:
        """One frame's timestamp, read without the rest of the chunk (not checksum verified)."""
        raw = self._read_at(chunk.payload + COUNT.size + row * TIMESTAMP.size, TIMESTAMP.size)
        return TIMESTAMP.unpack(raw)[0] if len(raw) == TIMESTAMP.size else 0

    def _read_at(self, offset: int, size: int) -> bytes:
        self.file.seek(offset)
        return _read_exactly(self.file, size)


def _read_exactly(file: BinaryIO, size: int) -> bytes:
    parts, left = [], size
    while left > 0 and (part := file.read(left)):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _fill(file: BinaryIO, view: memoryview) -> bool:
    """Read into every byte of `view`; False when the file ends first."""
    while len(view):
        got = file.readinto(view)
        if not got:
            return False
        view = view[got:]
    return True


def open_take(path: str | os.PathLike) -> BinaryIO:
    """The file opened for streaming (unbuffered: each read is exactly what was asked)."""
    try:
        return open(path, "rb", buffering=0)
    except OSError as exc:
        raise TakeError(f"cannot read take '{path}': {exc.strerror or exc}") from None


def scan(path: Path, action: Callable[[TakeScan], object]) -> object:
    """Open `path`, scan its header and run `action`; every OSError becomes a TakeError."""
    try:
        with open_take(path) as file:
            return action(TakeScan(file, path.name))
    except OSError as exc:
        raise TakeError(f"cannot read take '{path}': {exc.strerror or exc}") from None


def take_info(path: str | os.PathLike) -> TakeInfo:
    """Metadata, frame count, duration and completeness from the chunk headers, without the frames."""
    path = Path(path)

    def walk(take: TakeScan) -> TakeInfo:
        count = largest = 0
        first = last = None
        for chunk in take.frames():
            count += chunk.count
            largest = max(largest, chunk.count)
            if chunk.count:
                first, last = first or chunk, chunk
        duration = (take.timestamp(last, last.count - 1) - take.timestamp(first, 0)) / 1e6 if first else 0.0
        metadata, complete, problem = take.outcome(count)
        return TakeInfo(path, metadata, count, max(duration, 0.0), complete, problem, largest)

    return scan(path, walk)


def read_take(path: str | os.PathLike, first: int = 0, last: int | None = None) -> Take:
    """Read a take (frames first..last-1 when given), or every complete chunk of an unfinished
    or damaged one.

    Memory: the arrays once (sized from a header walk), plus one chunk when a range starts or
    ends inside it; chunks outside the range are not read. Raises TakeError when the file is
    missing, not a take, or has no readable header."""
    path = Path(path)
    return scan(path, lambda take: _read_frames(take, path, first, last))


def read_columns(path: str | os.PathLike, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays `names` of every frame, read without the rest of each chunk: an overview (who
    is in the take, and when) at a few bytes a frame. Names the take does not store (person_ids
    in a one-face take) are left out. Not checksum verified: read_chunks verifies the frames it
    gives. Raises TakeError as read_take does."""
    path = Path(path)

    def walk(take: TakeScan) -> dict[str, np.ndarray]:
        fields = frame_fields(take.channel_count, take.geometry, take.slots)
        parts: dict[str, list[np.ndarray]] = {name: [] for name, _, _ in fields if name in names}
        for chunk in take.frames():
            offset = chunk.payload + COUNT.size
            for name, dtype, shape in fields:
                size = chunk.count * dtype.itemsize * math.prod(shape)
                if name in parts:
                    raw = take._read_at(offset, size)
                    if len(raw) < size:  # the file shrank under us: what was read so far
                        return _joined(parts, fields)
                    parts[name].append(np.frombuffer(raw, dtype).reshape(chunk.count, *shape))
                offset += size
        return _joined(parts, fields)

    return scan(path, walk)


def _joined(parts: dict[str, list[np.ndarray]], fields: list) -> dict[str, np.ndarray]:
    count = min((sum(len(piece) for piece in pieces) for pieces in parts.values()), default=0)
    shapes = {name: (dtype, shape) for name, dtype, shape in fields}
    return {name: (np.concatenate(pieces) if pieces else np.empty((0, *shapes[name][1]), shapes[name][0])
                   ).astype(shapes[name][0].newbyteorder("="))[:count] for name, pieces in parts.items()}


def read_chunks(path: str | os.PathLike, max_frames: int = MAX_CHUNK_FRAMES) -> Iterator[Take]:
    """A take's frames in order, as Takes of at most `max_frames` frames each (a chunk written
    bigger, before chunks were bounded, comes whole); each has the whole take's metadata.

    Memory: one group of chunks at a time. Stops after the frames before the first damaged
    chunk, as read_take does. Raises TakeError as read_take does."""
    path = Path(path)
    try:
        with open_take(path) as file:
            take = TakeScan(file, path.name)
            chunks = list(take.frames())
            start = 0
            for count in _group_sizes(chunks, max_frames):
                part = _read_range(take, chunks, path, start, start + count)
                yield part
                if part.frame_count < count:
                    return
                start += count
    except OSError as exc:
        raise TakeError(f"cannot read take '{path}': {exc.strerror or exc}") from None


def _group_sizes(chunks: list[Chunk], max_frames: int) -> Iterator[int]:
    """Frame counts of runs of whole consecutive chunks, each at most max_frames (or one bigger chunk)."""
    group = 0
    for chunk in chunks:
        if group and group + chunk.count > max_frames:
            yield group
            group = 0
        group += chunk.count
    if group:
        yield group


def _read_frames(take: TakeScan, path: Path, first: int, last: int | None) -> Take:
    return _read_range(take, list(take.frames()), path, first, last)


def _read_range(take: TakeScan, chunks: list[Chunk], path: Path, first: int, last: int | None) -> Take:
    total = sum(chunk.count for chunk in chunks)
    last = total if last is None else min(max(last, 0), total)
    first = min(max(first, 0), last)
    fields = frame_fields(take.channel_count, take.geometry, take.slots)
    arrays = _allocate(fields, last - first, path)
    row, start, problem = 0, 0, ""  # rows filled; frame number where the chunk starts
    for chunk in chunks:
        low, high = max(first - start, 0), min(last - start, chunk.count)  # the rows wanted from it
        start += chunk.count
        if low >= high:
            continue
        whole = high - low == chunk.count
        into = arrays if whole else _allocate(fields, chunk.count, path)
        at = row if whole else 0
        if not _read_into(take.file, chunk, [into[name][at:at + chunk.count] for name, _, _ in fields]):
            problem = f"checksum mismatch at byte {chunk.offset}"
            break
        if not whole:
            for name in arrays:
                arrays[name][row:row + high - low] = into[name][low:high]
        row += high - low
    arrays = {name: array[:row] for name, array in arrays.items()}
    if sys.byteorder == "big":
        for array in arrays.values():
            array.byteswap(inplace=True)
    found = arrays.pop("face_found").view(np.uint8)
    if not take.geometry:
        arrays.update(no_geometry(row))
    metadata, complete, end_problem = take.outcome(total if row == last - first else row)
    return Take(metadata=metadata, complete=complete and not problem, problem=problem or end_problem,
                face_found=found != 0, **arrays)


def _allocate(fields: list, count: int, path: Path) -> dict[str, np.ndarray]:
    try:
        return {name: np.empty((count, *shape), dtype.newbyteorder("=")) for name, dtype, shape in fields}
    except MemoryError:
        raise TakeError(f"not enough memory to read take '{path.name}' ({count} frames)") from None


def _read_into(file: BinaryIO, chunk: Chunk, targets: list[np.ndarray]) -> bool:
    """Read a FRMS payload straight into the array slices; True when it was all there and its checksum holds."""
    file.seek(chunk.payload)
    crc = 0
    for target in [np.empty(1, np.uint32), *targets]:  # the count is read again for the checksum
        view = memoryview(target.reshape(-1).view(np.uint8))  # a view of the slice: no copy
        if not _fill(file, view):
            return False
        crc = zlib.crc32(view, crc)
    return crc == chunk.crc


def copy_chunk(file: BinaryIO, chunk: Chunk, sink: Callable[[bytes], object] | None = None) -> bool:
    """Stream one chunk's payload in pieces (to `sink`, if given); True when its checksum holds."""
    file.seek(chunk.payload)
    crc, left = 0, chunk.length
    while left:
        piece = _read_exactly(file, min(left, PIECE_BYTES))
        if not piece:
            return False
        crc = zlib.crc32(piece, crc)
        if sink is not None:
            sink(piece)
        left -= len(piece)
    return crc == chunk.crc
