"""Live Link Face CSV (Epic's iPhone app, reference §C.1): import to a Take, export from channels.

Reading is by column name, case-insensitive: any subset and order of columns, camelCase or
PascalCase shapes, `BlendShapeCount` or `BlendshapeCount`, rows of `timecode,0` for lost
tracking, weights a little above 1, three-digit hours and scientific notation are all
fine. What could not be used is listed in `LiveLinkImport.skipped`.
Head and eye columns (radians) are copied into channels of the same meaning as they are:
HeadYaw -> headYaw, LeftEyePitch -> eyeLeftPitch, ...; the app's own sign conventions are
kept (they are not documented). Eye roll has no channel here and is skipped on import.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..capture.protocol import BLENDSHAPE_NAMES
from ..capture.takes import Take, empty_arrays
from .channels import ARKIT_NAMES, CHANNEL_INDEX, N_CHANNELS
from .errors import LiveLinkError
from .naming import arkit_name

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
LLF_POSE = {  # CSV column -> channel (None: no such channel, written as 0)
    "HeadYaw": "headYaw", "HeadPitch": "headPitch", "HeadRoll": "headRoll",
    "LeftEyeYaw": "eyeLeftYaw", "LeftEyePitch": "eyeLeftPitch", "LeftEyeRoll": None,
    "RightEyeYaw": "eyeRightYaw", "RightEyePitch": "eyeRightPitch", "RightEyeRoll": None,
}
LLF_HEADER = ("Timecode", "BlendShapeCount") + LLF_SHAPES + tuple(LLF_POSE)
_POSE_BY_KEY = {k.lower(): v for k, v in LLF_POSE.items()}
_TIMECODE = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})[:;](\d+)(?:\.(\d+))?\s*$")
_STANDARD_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 120.0)
_MP_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}


@dataclass
class LiveLinkImport:
    """A take read from a CSV, with what was skipped and why."""

    take: Take
    fps: float
    skipped: list[str] = field(default_factory=list)


def parse_timecode(text: str) -> tuple[int, float]:
    """'HH:MM:SS:FF.fff' (any number of hour digits) -> (whole seconds, frames incl. sub-frame)."""
    m = _TIMECODE.match(text)
    if not m:
        raise LiveLinkError(f"'{text}' is not a timecode like 00:32:09:07.867")
    h, mi, s, ff, frac = m.groups()
    frames = int(ff) + (float("0." + frac) if frac else 0.0)
    return int(h) * 3600 + int(mi) * 60 + int(s), frames


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


def _guess_fps(frame_numbers: list[float]) -> float:
    top = max(frame_numbers, default=0.0)
    for rate in _STANDARD_RATES:
        if top < rate:
            return rate
    return float(math.floor(top) + 1)


def read_livelink_csv(path: str | os.PathLike, fps: float | None = None) -> LiveLinkImport:
    """Read a Live Link Face CSV into a Take (no landmarks; shapes + head/eye channels)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except OSError as exc:
        raise LiveLinkError(f"cannot read '{path}': {exc.strerror}") from None
    except UnicodeDecodeError:
        raise LiveLinkError(f"'{path}' is not a text CSV file") from None
    result = parse_livelink_csv(text, fps)
    result.take.metadata["source_file"] = os.path.basename(os.fspath(path))
    return result


def _columns(header: list[str], skipped: list[str]) -> tuple[int, int | None, dict[int, str]]:
    """(timecode col, count col, {col: channel}) from the header names."""
    time_col = count_col = None
    channels: dict[int, str] = {}
    for col, raw in enumerate(header):
        key = raw.strip().lower()
        if key == "timecode":
            time_col = col
        elif key == "blendshapecount":
            count_col = col
        elif key in _POSE_BY_KEY:
            if _POSE_BY_KEY[key] is None:
                skipped.append(f"column '{raw.strip()}': no such channel")
            else:
                channels[col] = _POSE_BY_KEY[key]
        elif arkit_name(raw) is not None:
            channels[col] = arkit_name(raw)
        else:
            skipped.append(f"column '{raw.strip()}': not a Live Link Face value")
    if time_col is None:
        raise LiveLinkError("no Timecode column: is this a Live Link Face CSV?")
    if not channels:
        raise LiveLinkError("no blendshape or head columns found")
    return time_col, count_col, channels


def parse_livelink_csv(text: str, fps: float | None = None) -> LiveLinkImport:
    """Parse CSV text (see read_livelink_csv)."""
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise LiveLinkError("the CSV file is empty")
    skipped: list[str] = []
    time_col, count_col, columns = _columns(rows[0], skipped)
    stamps, values, found = [], [], []
    width = len(rows[0])
    for number, row in enumerate(rows[1:], start=2):
        try:
            seconds, frames = parse_timecode(row[time_col])
        except (LiveLinkError, IndexError):
            skipped.append(f"row {number}: no valid timecode")
            continue
        count = row[count_col].strip() if count_col is not None and count_col < len(row) else ""
        lost = count in ("0", "0.0") or len(row) <= max(time_col, count_col or 0) + 1
        if not lost and len(row) < width:
            skipped.append(f"row {number}: {len(row)} of {width} values")
            continue
        vec = np.full(N_CHANNELS, np.nan)
        if not lost:
            try:
                for col, name in columns.items():
                    vec[CHANNEL_INDEX[name]] = float(row[col])
            except ValueError:
                skipped.append(f"row {number}: a value is not a number")
                continue
            vec[~np.isfinite(vec)] = np.nan
        stamps.append((seconds, frames))
        values.append(vec)
        found.append(not lost)
    if not stamps:
        raise LiveLinkError("the CSV file has no readable rows")
    fps = float(fps or _guess_fps([f for _, f in stamps]))
    present = {name for name in columns.values()}
    return LiveLinkImport(_make_take(stamps, np.array(values), np.array(found), fps, present), fps, skipped)


def _make_take(stamps, values: np.ndarray, found: np.ndarray, fps: float, present: set[str]) -> Take:
    times = np.array([s + f / fps for s, f in stamps])
    extra = [n for n in CHANNEL_INDEX if n in present and (n not in _MP_INDEX)]
    arrays = empty_arrays(len(times), len(extra))
    arrays["timestamps_us"] = np.round((times - times[0]) * 1e6).astype(np.int64)
    arrays["frame_indices"] = np.round(times * fps).astype(np.int64)
    arrays["face_found"] = found
    for name in ARKIT_NAMES:
        if name in _MP_INDEX and name in present:
            arrays["blendshapes"][:, _MP_INDEX[name]] = values[:, CHANNEL_INDEX[name]]
    arrays["blendshapes"][found, 0] = 0.0  # `_neutral`: not in ARKit
    for col, name in enumerate(extra):
        arrays["channels"][:, col] = values[:, CHANNEL_INDEX[name]]
    meta = {"format_version": 1, "source": "livelink_csv", "fps": fps, "image_size": [0, 0],
            "channel_names": extra, "start_timecode": format_timecode(times[0], fps)}
    return Take(metadata=meta, **arrays)


def write_livelink_csv(path: str | os.PathLike, timestamps_s: np.ndarray, channels: np.ndarray,
                       fps: float = 60.0, start_s: float = 0.0) -> int:
    """Write channels (N, N_CHANNELS) as a Live Link Face CSV; rows without a face get `timecode,0`."""
    channels = np.asarray(channels, np.float64).reshape(-1, N_CHANNELS)
    shape_cols = [CHANNEL_INDEX[arkit_name(n)] for n in LLF_SHAPES]
    pose_cols = [CHANNEL_INDEX[c] if c else -1 for c in LLF_POSE.values()]
    lines = [",".join(LLF_HEADER)]
    for t, vec in zip(np.asarray(timestamps_s, np.float64), channels):
        code = format_timecode(start_s + t, fps)
        shapes = vec[shape_cols]
        if not np.all(np.isfinite(shapes)):
            lines.append(f"{code},0")
            continue
        pose = np.array([vec[c] if c >= 0 else 0.0 for c in pose_cols])
        pose = np.nan_to_num(pose)  # a value the app cannot leave out
        lines.append(",".join([code, str(len(LLF_SHAPES) + len(LLF_POSE))]
                              + [f"{v:.10f}" for v in np.concatenate([shapes, pose])]))
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write("\n".join(lines) + "\n")
    except OSError as exc:
        raise LiveLinkError(f"cannot write '{path}': {exc.strerror}") from None
    return len(lines) - 1


def export_take(take: Take, path: str | os.PathLike, face=None, calibration=None,
                fps: float | None = None) -> int:
    """Write a take as a Live Link Face CSV (its channels; calibrated if a calibration is given)."""
    from .pipeline import calibrate_stage, take_channels  # pipeline imports the stages livelink does not need

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
    return write_livelink_csv(path, times, values, fps, start_s)
