"""Live Link Face CSV (Epic's iPhone app, reference §C.1): import to a take, export from channels.

Reading is by column name, case-insensitive: any subset and order of columns, camelCase or
PascalCase shapes, `BlendShapeCount` or `BlendshapeCount`, rows of `timecode,0` for lost
tracking, weights a little above 1, three-digit hours and scientific notation are all
fine. What could not be used is listed in `LiveLinkImport.skipped` (rows are read by
livelink_rows.py, in bounded blocks).
Head and eye columns (radians) are copied into channels of the same meaning: HeadYaw ->
headYaw, LeftEyePitch -> eyeLeftPitch, ...; the app's eye yaw is negated (it runs against its
own eyeLook shapes, see livelink_rows.LLF_SIGN), the other signs are kept as the app writes
them. Eye roll is kept in the take (eyeLeftRoll, eyeRightRoll) and exported back.
Rows of lost tracking (`timecode,0`) are counted with the longest run of them; a file made
only of such rows is refused.
A CSV has no face geometry, so its takes store none (metadata `face_geometry` false).
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TextIO

import numpy as np

from ..capture.protocol import BLENDSHAPE_NAMES, NUM_BLENDSHAPES
from ..capture.takes import Take, TakeError, TakeWriter, no_geometry
from .channels import CHANNEL_INDEX, N_CHANNELS
from .errors import LiveLinkError
from .livelink_rows import EYE_ROLL, LLF_POSE, LLF_SIGN, Notes, parse_timecode, read_blocks
from .naming import arkit_name
from .reading import check_regular_file, clip

__all__ = ["LLF_HEADER", "LLF_POSE", "LLF_SHAPES", "LiveLinkImport", "export_take", "format_timecode",
           "import_livelink_csv", "parse_livelink_csv", "parse_timecode", "read_livelink_csv",
           "write_livelink_csv"]

# Column order the app writes (reference §C.1); JawRight/JawLeft and MouthRight/MouthLeft
# are swapped there compared with the UDP order, which is why reading goes by name.
LLF_SHAPES = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight",
    "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight", "EyeWideRight", "JawForward",
    "JawRight", "JawLeft", "JawOpen", "MouthClose", "MouthFunnel", "MouthPucker", "MouthRight",
    "MouthLeft", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight",
    "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft",
    "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft",
    "MouthUpperUpRight", "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft",
    "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft", "CheekSquintRight", "NoseSneerLeft",
    "NoseSneerRight", "TongueOut",
)
LLF_HEADER = ("Timecode", "BlendShapeCount") + LLF_SHAPES + tuple(LLF_POSE)
_STANDARD_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 120.0)
MAX_FPS = 10_000.0  # what a take's metadata may hold
_MP_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}


@dataclass
class LiveLinkImport:
    """What a CSV became: the take (in memory, or the path of its file) and what was skipped."""

    fps: float
    frame_count: int
    skipped: list[str] = field(default_factory=list)  # the first notes (see skipped_count)
    skipped_count: int = 0  # every note, also those not listed
    take: Take | None = None  # read_livelink_csv / parse_livelink_csv
    path: Path | None = None  # import_livelink_csv
    lost_rows: int = 0  # rows written while tracking was lost (`timecode,0`)
    longest_gap_s: float = 0.0  # the longest run of them, from the last face before to the next after

    def summary(self, limit: int = 5) -> str:
        """Lost tracking, then the first `limit` notes and how many more, for a one-line report."""
        parts = []
        if self.lost_rows:
            parts.append(f"{self.lost_rows} of {self.frame_count} rows had lost tracking "
                         f"(longest gap {self.longest_gap_s:.2f} s)")
        if self.skipped:
            more = self.skipped_count - min(limit, len(self.skipped))
            parts.append("skipped " + ", ".join(self.skipped[:limit]) + (f" and {more} more" if more > 0 else ""))
        return "; ".join(parts)


def format_timecode(seconds: float, fps: float) -> str:
    """Seconds -> 'HH:MM:SS:FF.fff' (sub-frame in thousandths after the dot)."""
    whole = int(math.floor(seconds + 1e-9))
    milli = int(round((seconds - whole) * fps * 1000))
    if milli >= round(fps * 1000):  # rounding reached the next second
        whole, milli = whole + 1, 0
    h, rest = divmod(whole, 3600)
    mi, s = divmod(rest, 60)
    ff, frac = divmod(milli, 1000)
    return f"{h:02d}:{mi:02d}:{s:02d}:{ff:02d}.{frac:03d}"


def _guess_fps(top_frame: float) -> float:
    """The smallest standard rate whose frame numbers reach the highest one seen."""
    for rate in _STANDARD_RATES:
        if top_frame < rate:
            return rate
    return float(math.floor(top_frame) + 1)


# progress(fraction done in 0..1) -> False to cancel; None or True to go on (as the bake's)
Progress = Callable[[float], "bool | None"]


class _Meter:
    """How far through the file reading is, from the byte position, for a progress bar."""

    def __init__(self, fh: TextIO, report: Progress | None, passes: int) -> None:
        self.report, self.passes, self.done = report, passes, 0
        try:
            self.size, self.raw = os.fstat(fh.fileno()).st_size, fh.buffer
        except (AttributeError, OSError, ValueError):  # text in memory: nothing to show
            self.report = None

    def tick(self) -> None:
        """Report after a block; LiveLinkError when the callback asks to stop."""
        if self.report is not None and self.size:
            fraction = min(1.0, (self.done + self.raw.tell() / self.size) / self.passes)
            if self.report(fraction) is False:
                raise LiveLinkError("the import was cancelled")


class _Conversion:
    """CSV rows -> take arrays (no face geometry), block by block.

    Without a given fps, a first pass over the file finds the highest frame number (all
    the guess needs) and the file is read again from the start."""

    def __init__(self, fh: TextIO, fps: float | None, progress: Progress | None = None) -> None:
        self._meter = _Meter(fh, progress, 2 if fps is None else 1)
        if fps is None:
            top = 0.0
            for block in read_blocks(fh, Notes())[1]:
                top = max(top, float(block.frames.max()))
                self._meter.tick()
            fps = _guess_fps(top)
            fh.seek(0)
            self._meter.done = 1
        try:
            self.fps = float(fps)
        except (TypeError, ValueError):
            self.fps = math.nan
        if not (math.isfinite(self.fps) and 0 < self.fps <= MAX_FPS):
            raise LiveLinkError(f"the frame rate must be a number above 0 and at most {MAX_FPS:g}, got {fps!r}")
        self.notes = Notes()
        layout, self._blocks = read_blocks(fh, self.notes)
        col = {name: i for i, name in enumerate(layout.channels)}  # a repeated column: the last wins
        self._blend = [(_MP_INDEX[name], i) for name, i in col.items() if name in _MP_INDEX]
        self.extra = [name for name in (*CHANNEL_INDEX, *EYE_ROLL) if name in col and name not in _MP_INDEX]
        self._extra_cols = [col[name] for name in self.extra]
        self._extra_signs = np.array([LLF_SIGN.get(name, 1.0) for name in self.extra])
        self.start_s: float | None = None  # time of the first row, known once it is read
        self.frame_count = 0
        self.lost_rows = 0
        self.longest_gap_s = 0.0
        self._last_face_s: float | None = None  # time of the last row with a face
        self._gap_start_s: float | None = None  # a run of lost rows that has not ended yet
        self._end_s = 0.0  # time of the last row read

    def metadata(self) -> dict:
        """The take's metadata (call once the first block has been read)."""
        return {"face_geometry": False, "source": "livelink_csv", "fps": self.fps, "image_size": [0, 0],
                "channel_names": self.extra, "start_timecode": format_timecode(self.start_s, self.fps),
                "timecode_rate": self.fps, "timecode_source": "Live Link"}

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for block in self._blocks:
            times = block.seconds + block.frames / self.fps
            if self.start_s is None:
                self.start_s = float(times[0])
            blend = np.full((len(block), NUM_BLENDSHAPES), np.nan, np.float32)
            for mp_index, col in self._blend:
                blend[:, mp_index] = block.values[:, col]
            blend[block.found, 0] = 0.0  # `_neutral`: not in ARKit
            self._count_lost(times, block.found)
            self.frame_count += len(block)
            self._meter.tick()
            yield {"timestamps_us": np.round((times - self.start_s) * 1e6).astype(np.int64),
                   "frame_indices": np.round(times * self.fps).astype(np.int64),
                   "face_found": block.found, "blendshapes": blend,
                   "channels": (block.values[:, self._extra_cols] * self._extra_signs).astype(np.float32)}
        if self.frame_count and self._last_face_s is None:
            raise LiveLinkError(f"all {self.frame_count} rows are lost tracking (timecode,0): "
                                "the app never saw a face in this take")

    def _count_lost(self, times: np.ndarray, found: np.ndarray) -> None:
        """Count lost rows and time the longest run of them (a run may span blocks)."""
        self.lost_rows += int(np.count_nonzero(~found))
        self._end_s = float(times[-1])
        if found.all() and self._gap_start_s is None:  # the usual block: nothing to time
            self._last_face_s = self._end_s
            return
        for t, face in zip(times.tolist(), found.tolist()):
            if face:
                if self._gap_start_s is not None:  # the gap runs from the last face to this one
                    self.longest_gap_s = max(self.longest_gap_s, t - self._gap_start_s)
                    self._gap_start_s = None
                self._last_face_s = t
            elif self._gap_start_s is None:
                self._gap_start_s = self._last_face_s if self._last_face_s is not None else t

    def result(self, **kwargs) -> LiveLinkImport:
        """The summary of what was read."""
        if self._gap_start_s is not None and self._last_face_s is not None:  # the take ends without a face
            self.longest_gap_s = max(self.longest_gap_s, self._end_s - self._gap_start_s)
        return LiveLinkImport(self.fps, self.frame_count, list(self.notes.first), self.notes.count,
                              lost_rows=self.lost_rows, longest_gap_s=self.longest_gap_s, **kwargs)


def _open(path: str | os.PathLike) -> TextIO:
    """The CSV as text; only a regular file (opening a FIFO would wait for a writer forever)."""
    check_regular_file(path, "Live Link CSV", LiveLinkError)
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise LiveLinkError(f"cannot read '{path}': {exc.strerror or exc}") from None


def import_livelink_csv(csv_path: str | os.PathLike, take_path: str | os.PathLike,
                        fps: float | None = None, progress: Progress | None = None) -> LiveLinkImport:
    """Stream a Live Link Face CSV into a take file, a block of rows at a time.

    The take appears at `take_path` only when complete; on any error (or when progress
    returns False) nothing is left there and LiveLinkError says why. fps: the app's frame
    rate (guessed when None)."""
    writer: TakeWriter | None = None
    try:
        with _open(csv_path) as fh:
            conversion = _Conversion(fh, fps, progress)
            for arrays in conversion:
                if writer is None:
                    meta = {**conversion.metadata(), "source_file": os.path.basename(os.fspath(csv_path))}
                    writer = TakeWriter(take_path, meta)
                writer.append_arrays(arrays)
        if writer is None:  # read_blocks raises first; kept so a change there cannot finish nothing
            raise LiveLinkError(f"'{csv_path}' has no readable rows")
        path = writer.finish()
    except (OSError, TakeError) as exc:
        cause = writer.error if writer is not None and writer.error is not None else exc
        if writer is not None:
            writer.abort()  # unlike a recording, an import can be run again: keep no part of it
        full = getattr(cause, "errno", None) == errno.ENOSPC
        reason = "disk full" if full else (getattr(cause, "strerror", None) or cause)
        raise LiveLinkError(f"cannot import '{clip(os.fspath(csv_path), 80)}' into take "
                            f"'{Path(take_path).name}': {reason}; nothing was kept") from None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return conversion.result(path=Path(path))


def _read(fh: TextIO, fps: float | None) -> LiveLinkImport:
    """A whole CSV into a take in memory (for small files: the blocks are joined)."""
    conversion = _Conversion(fh, fps)
    blocks = list(conversion)
    arrays = {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}
    take = Take(metadata=conversion.metadata(), **arrays, **no_geometry(conversion.frame_count))
    return conversion.result(take=take)


def read_livelink_csv(path: str | os.PathLike, fps: float | None = None) -> LiveLinkImport:
    """Read a Live Link Face CSV into a Take in memory (import_livelink_csv streams to a file)."""
    with _open(path) as fh:
        result = _read(fh, fps)
    result.take.metadata["source_file"] = os.path.basename(os.fspath(path))
    return result


def parse_livelink_csv(text: str, fps: float | None = None) -> LiveLinkImport:
    """Parse CSV text (see read_livelink_csv)."""
    return _read(io.StringIO(text, newline=""), fps)


def write_livelink_csv(path: str | os.PathLike, timestamps_s: np.ndarray, channels: np.ndarray,
                       fps: float = 60.0, start_s: float = 0.0, eye_roll: np.ndarray | None = None) -> int:
    """Write channels (N, N_CHANNELS) as a Live Link Face CSV; rows without a face get `timecode,0`.
    eye_roll: (N, 2) left and right eye roll (radians) when the take has them, else 0.

    Rows go to `<path>.partial` as they are made (no list of every line in memory) and the
    file is renamed into place once whole."""
    channels = np.asarray(channels, np.float64).reshape(-1, N_CHANNELS)
    partial = f"{os.fspath(path)}.partial"
    try:
        with open(partial, "w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(LLF_HEADER) + "\n")
            roll = np.zeros((len(channels), len(EYE_ROLL))) if eye_roll is None else np.nan_to_num(eye_roll)
            for line in _csv_lines(np.asarray(timestamps_s, np.float64), np.hstack([channels, roll]), fps, start_s):
                fh.write(line + "\n")
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise LiveLinkError(f"cannot write '{path}': {exc.strerror or exc}") from None
    return len(channels)


def _csv_lines(times_s: np.ndarray, channels: np.ndarray, fps: float, start_s: float) -> Iterator[str]:
    """Rows of channels followed by the eye roll columns (N, N_CHANNELS + 2)."""
    shape_cols = [CHANNEL_INDEX[arkit_name(n)] for n in LLF_SHAPES]
    index = {**CHANNEL_INDEX, **{name: N_CHANNELS + i for i, name in enumerate(EYE_ROLL)}}
    pose_cols = [index[c] if c else -1 for c in LLF_POSE.values()]
    signs = np.array([LLF_SIGN.get(c, 1.0) for c in LLF_POSE.values()])  # back to the app's signs
    for t, vec in zip(times_s, channels):
        code = format_timecode(start_s + t, fps)
        shapes = vec[shape_cols]
        if not np.all(np.isfinite(shapes)):
            yield f"{code},0"
            continue
        pose = np.array([vec[c] if c >= 0 else 0.0 for c in pose_cols])
        pose = np.nan_to_num(pose) * signs  # a value the app cannot leave out
        yield ",".join([code, str(len(LLF_SHAPES) + len(LLF_POSE))]
                       + [f"{v:.10f}" for v in np.concatenate([shapes, pose])])


def export_take(take: Take, path: str | os.PathLike, face=None, calibration=None,
                fps: float | None = None) -> int:
    """Write a take as a Live Link Face CSV (its channels; calibrated if a calibration is given)."""
    from .pipeline import calibrate_stage, take_calibration, take_channels  # stages livelink does not need

    if calibration is not None:  # MediaPipe's blink defaults are not for an iPhone's own scores
        calibration = take_calibration(take, calibration)
    values = calibrate_stage(take_channels(take, face, calibration), calibration)
    times = take.timestamps_us / 1e6
    if fps is None:
        fps = float(take.metadata.get("fps") or 0.0)
        if fps <= 0:
            steps = np.diff(times)
            fps = 1.0 / float(np.median(steps[steps > 0])) if np.any(steps > 0) else 60.0
    start = take.metadata.get("start_timecode")
    start_s = 0.0
    if start:
        whole, frames = parse_timecode(start)
        start_s = whole + frames / fps
    names = list(take.channel_names)
    roll = None
    if any(name in names for name in EYE_ROLL):  # kept from an imported CSV
        roll = np.stack([take.channels[:, names.index(n)] if n in names else np.zeros(take.frame_count)
                         for n in EYE_ROLL], axis=1)
    return write_livelink_csv(path, times, values, fps, start_s, roll)
