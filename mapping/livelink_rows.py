"""Live Link Face CSV rows, read in bounded blocks (reference §C.1); livelink.py makes takes of them.

Memory is bounded by a block, not by the file: lines come from the open file one at a time
(none longer than MAX_LINE characters, so a file without line breaks cannot fill memory),
csv.reader splits them, and rows are gathered into numpy blocks of at most BLOCK_ROWS rows.
A row that cannot be used is skipped with a note naming its row (the line number in the
file; the header is row 1) and column; a file that cannot be read at all raises
LiveLinkError. Notes are capped (the first MAX_NOTES, plus a count): a million bad rows
must not become a million strings.
"""

from __future__ import annotations

import csv
import functools
import math
import operator
from dataclasses import dataclass
from typing import Iterator, TextIO

import numpy as np

from ..capture.timecode import Timecode, TimecodeError
from .errors import LiveLinkError
from .naming import arkit_name
from .reading import clip

BLOCK_ROWS = 2048
MAX_LINE = 1 << 20  # characters; a real row is under 1,000
MAX_NOTES = 20
# Takes store float32: anything beyond this would become inf
_F32_MAX = float(np.finfo(np.float32).max)
LLF_POSE = {  # CSV column -> channel (None: no such channel, written as 0)
    "HeadYaw": "headYaw", "HeadPitch": "headPitch", "HeadRoll": "headRoll",
    "LeftEyeYaw": "eyeLeftYaw", "LeftEyePitch": "eyeLeftPitch", "LeftEyeRoll": "eyeLeftRoll",
    "RightEyeYaw": "eyeRightYaw", "RightEyePitch": "eyeRightPitch", "RightEyeRoll": "eyeRightRoll",
}
# Kept in the take and written back on export, though no mapping channel uses them yet.
EYE_ROLL = ("eyeLeftRoll", "eyeRightRoll")
# The app's eye yaw runs against its own eyeLook shapes: in the shared take LeftEyeYaw has
# correlation -0.98 with EyeLookOutLeft - EyeLookInLeft (RightEyeYaw the same with the right
# eye's), while the pitches agree at +1.00 with EyeLookDown - EyeLookUp. So the sign is flipped
# into our convention (yaw > 0 looks to the subject's left) on import, and back on export.
LLF_SIGN = {"eyeLeftYaw": -1.0, "eyeRightYaw": -1.0}
_POSE_BY_KEY = {k.lower(): v for k, v in LLF_POSE.items()}


def parse_timecode(text: str) -> tuple[int, float]:
    """'HH:MM:SS:FF.fff' (hours of up to 9 digits) -> (whole seconds, frames incl. sub-frame).

    Raises LiveLinkError naming the field that is too long or not a number."""
    try:
        code = Timecode.parse(text)
    except TimecodeError as exc:
        raise LiveLinkError(f"'{clip(text)}' {exc.reason}") from None
    return code.whole_seconds, code.frames


class Notes:
    """What was skipped and why: the first `limit` notes in full, and how many there were."""

    def __init__(self, limit: int = MAX_NOTES) -> None:
        self.limit = limit
        self.first: list[str] = []
        self.count = 0
        self.first_row = ""  # the first note about a row, for "no readable rows"

    def add(self, text: str, row: bool = True) -> None:
        """Record one note (kept only while fewer than `limit` are kept)."""
        self.count += 1
        if len(self.first) < self.limit:
            self.first.append(text)
        if row and not self.first_row:
            self.first_row = text


@dataclass(frozen=True)
class Layout:
    """Where things are in a row, from the header (columns are found by name)."""

    time_col: int
    count_col: int | None
    width: int
    value_cols: tuple[int, ...]
    labels: tuple[str, ...]  # header name of each value column, for messages
    channels: tuple[str, ...]  # channel of each value column

    def cells(self, row: list[str]) -> tuple[str, ...]:
        """The value cells of a row, in value_cols order (itemgetter: this runs per row)."""
        cells = _getter(self.value_cols)(row)
        return cells if len(self.value_cols) > 1 else (cells,)

    @classmethod
    def from_header(cls, header: list[str], notes: Notes) -> "Layout":
        """Read the header; notes name the columns that have no channel here."""
        time_col = count_col = None
        cols: dict[int, str] = {}
        for col, raw in enumerate(header):
            key, label = raw.strip().lower(), clip(raw.strip())
            if key == "timecode":
                time_col = col
            elif key == "blendshapecount":
                count_col = col
            elif key in _POSE_BY_KEY:
                if _POSE_BY_KEY[key] is None:
                    notes.add(f"column '{label}': no such channel", row=False)
                else:
                    cols[col] = _POSE_BY_KEY[key]
            elif arkit_name(raw) is not None:
                cols[col] = arkit_name(raw)
            else:
                notes.add(f"column '{label}': not a Live Link Face value", row=False)
        if time_col is None:
            raise LiveLinkError("no Timecode column: is this a Live Link Face CSV?")
        if not cols:
            raise LiveLinkError("no blendshape or head columns found")
        return cls(time_col, count_col, len(header), tuple(cols),
                   tuple(clip(header[c].strip()) for c in cols), tuple(cols.values()))


@functools.lru_cache(maxsize=8)
def _getter(cols: tuple[int, ...]) -> operator.itemgetter:
    return operator.itemgetter(*cols)


@dataclass
class Block:
    """Up to BLOCK_ROWS usable rows, in file order, times never going back."""

    seconds: np.ndarray  # int64 (n,): whole seconds of the timecode
    frames: np.ndarray  # float64 (n,): frames within the second, sub-frame included
    found: np.ndarray  # bool (n,): False for rows of lost tracking (`timecode,0`)
    values: np.ndarray  # float64 (n, len(layout.channels)); NaN rows where not found

    def __len__(self) -> int:
        return int(self.seconds.shape[0])


def read_blocks(fh: TextIO, notes: Notes, size: int = BLOCK_ROWS) -> tuple[Layout, Iterator[Block]]:
    """The header's layout, and the usable rows in blocks (LiveLinkError: the file is unusable)."""
    rows = _rows(fh)
    first = next(rows, None)
    if first is None:
        raise LiveLinkError("the CSV file is empty")
    layout = Layout.from_header(first[1], notes)
    return layout, _blocks(rows, layout, notes, size)


def _lines(fh: TextIO) -> Iterator[str]:
    """The file's lines, each read with a length cap."""
    number = 0
    while True:
        try:
            line = fh.readline(MAX_LINE + 1)
        except UnicodeDecodeError:  # decoding runs ahead in blocks: the line number is approximate
            where = f" (undecodable bytes after line {number})" if number else ""
            raise LiveLinkError(f"the file is not UTF-8 text{where}: is this a Live Link Face CSV?") from None
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE:
            raise LiveLinkError(f"line {number} is longer than {MAX_LINE:,} characters: not a Live Link Face CSV")
        yield line


def _rows(fh: TextIO) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every row that is not blank."""
    reader = csv.reader(_lines(fh))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL, a broken quote
            raise LiveLinkError(f"row {reader.line_num} is not valid CSV: {exc}") from None
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _parse_row(line: int, row: list[str], layout: Layout) -> tuple[int, float, list[float] | None] | str:
    """(seconds, frames, values or None for lost tracking), or why the row cannot be used."""
    if layout.time_col >= len(row):
        return f"row {line}: no timecode"
    try:
        seconds, frames = parse_timecode(row[layout.time_col])
    except LiveLinkError as exc:
        return f"row {line}: {exc}"
    count_col = layout.count_col
    count = row[count_col].strip() if count_col is not None and count_col < len(row) else ""
    if count in ("0", "0.0") or len(row) <= max(layout.time_col, count_col or 0) + 1:
        return seconds, frames, None  # lost tracking: a timecode and nothing else
    if len(row) < layout.width:
        return f"row {line}: {len(row)} of {layout.width} values"
    if len(row) > layout.width and any(cell.strip() for cell in row[layout.width:]):
        return f"row {line}: {len(row)} values, but the header names {layout.width} columns"
    try:
        return seconds, frames, list(map(float, layout.cells(row)))
    except ValueError:
        return _value_problem(line, row, layout)


def _value_problem(line: int, row, layout: Layout) -> str:
    """Which value of a row (its cells, or its parsed values) cannot be stored, and why."""
    cells = layout.cells(row) if isinstance(row, list) else row
    for cell, label in zip(cells, layout.labels):
        try:
            value = float(cell)
        except ValueError:
            return f"row {line}, column '{label}': '{clip(cell)}' is not a number"
        if not math.isfinite(value):
            return f"row {line}, column '{label}': {value:g} is not a finite number"
        if abs(value) > _F32_MAX:
            return f"row {line}, column '{label}': {value:g} is beyond float32's range"
    raise AssertionError("_value_problem called for a row without a problem")


class _Gather:
    """Rows collected for the next block; the time of the last row kept."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.lines: list[int] = []
        self.seconds: list[int] = []
        self.frames: list[float] = []
        self.found: list[bool] = []
        self.values: list[list[float]] = []
        self.last: tuple[int, float] | None = None
        self._lost = [math.nan] * len(layout.channels)  # one shared row of NaN for lost tracking

    def add(self, line: int, seconds: int, frames: float, values: list[float] | None) -> str | None:
        """Queue a row, or say why not (its time is not after the previous row's).

        Times are compared as (seconds, frames), which needs no frame rate: the first pass,
        which guesses the rate, keeps exactly the rows the second pass keeps."""
        if self.last is not None and (seconds, frames) <= self.last:
            return f"row {line}: the timecode does not move forward (it repeats or goes back)"
        self.last = (seconds, frames)
        self.lines.append(line)
        self.seconds.append(seconds)
        self.frames.append(frames)
        self.found.append(values is not None)
        self.values.append(self._lost if values is None else values)
        return None

    def __len__(self) -> int:
        return len(self.seconds)

    def block(self) -> tuple[Block, list[tuple[int, str]]]:
        """The queued rows as a block, without those holding a value a take cannot store
        (NaN, inf, beyond float32: checked here for the whole block at once), and
        (line, why) for each of those; the queue starts empty again."""
        values = np.array(self.values, np.float64).reshape(len(self.values), len(self.layout.channels))
        bad = ~(np.abs(values) <= _F32_MAX).all(axis=1)  # NaN compares False: bad too
        bad &= np.array(self.found, bool)  # lost-tracking rows are NaN on purpose
        problems = [(self.lines[i], _value_problem(self.lines[i], values[i], self.layout)) for i in np.flatnonzero(bad)]
        keep = ~bad
        block = Block(np.array(self.seconds, np.int64)[keep], np.array(self.frames, np.float64)[keep],
                      np.array(self.found, bool)[keep], values[keep])
        self.lines, self.seconds, self.frames, self.found, self.values = [], [], [], [], []
        return block, problems


def _blocks(rows: Iterator[tuple[int, list[str]]], layout: Layout, notes: Notes, size: int) -> Iterator[Block]:
    gather = _Gather(layout)
    seen = kept = 0
    pending: list[tuple[int, str]] = []  # notes of rows since the last block, to merge in file order

    def emit() -> Block:
        nonlocal kept, pending
        block, problems = gather.block()
        for _, problem in sorted(pending + problems):
            notes.add(problem)
        pending = []
        kept += len(block)
        return block

    for line, row in rows:
        seen += 1
        parsed = _parse_row(line, row, layout)
        problem = parsed if isinstance(parsed, str) else gather.add(line, *parsed)
        if problem:
            pending.append((line, problem))
        if len(gather) >= size:
            block = emit()
            if len(block):
                yield block
    block = emit()
    if len(block):
        yield block
    if not seen:
        raise LiveLinkError("the CSV file has a header but no data rows")
    if not kept:
        raise LiveLinkError(f"the CSV file has no readable rows (of {seen}; first problem: {notes.first_row})")
