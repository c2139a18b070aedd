"""SMPTE-style timecode: parse 'HH:MM:SS:FF(.fff)', count frames, place a take in a scene.

A timecode is read at its own rate (the take's `timecode_rate`): 24, 25, 30, ... or the NTSC
rates 23.976, 29.97, 59.94 (n * 1000/1001). ';' before the frames marks drop-frame timecode
(29.97 and 59.94 only): frame numbers 0-1 (0-3 at 59.94) are skipped at the start of every
minute except each tenth, so the timecode keeps up with the wall clock. After the frames a
'.fff' fraction is a sub-frame (Live Link Face writes one).

A take starts in a scene at its timecode's frame count when the scene runs at the same rate
(frame for frame, as an editor conforms footage), otherwise at the same real time
(frames / rate * scene fps). Standard library only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Hours may exceed two digits (some writers use three); the digit caps keep int() far below
# Python's limit for int conversion and frame numbers within a take's 10,000 fps.
_PATTERN = re.compile(r"([0-9]+):([0-9]+):([0-9]+)([:;])([0-9]+)(?:\.([0-9]+))?")
_FIELDS = (("hours", 9), ("minutes", 2), ("seconds", 2), ("frames", 4), ("sub-frame", 15))
_NTSC_BASES = (24, 30, 48, 60, 120)  # rates that also run 1000/1001 slower
_NTSC_RATES = tuple(base * 1000.0 / 1001.0 for base in _NTSC_BASES)
_RATE_TOLERANCE = 0.01  # 23.98 and 29.97 written with fewer digits are still NTSC


class TimecodeError(ValueError):
    """A timecode that cannot be read or used at the given rate, with the reason in words
    (`reason`: the message without the timecode, for callers that show the text themselves)."""

    def __init__(self, reason: str, text: str = "") -> None:
        self.reason = reason
        shown = text if len(text) <= 40 else text[:32] + "..."
        super().__init__(f"'{shown!s}' {reason}" if text else reason)


def exact_rate(rate: float) -> float:
    """The rate a camera means: 23.976 or 23.98 -> 24000/1001, 29.97 -> 30000/1001; others as given."""
    for ntsc in _NTSC_RATES:
        if abs(rate - ntsc) < _RATE_TOLERANCE:
            return ntsc
    return float(rate)


def clock_rate(rate: float) -> float:
    """The rate a clip at `rate` counts timecode at: 23.976, 29.97, ... exactly, any other rate
    in whole frames (a phone's variable-rate clip at 26.4 fps counts 26), so a wall clock's
    timecode reads the time of day instead of running ahead of it."""
    exact = exact_rate(rate)
    return exact if exact in _NTSC_RATES else float(max(1, round(rate)))


def nominal_rate(rate: float) -> int:
    """Frames counted per timecode second: 24 for 23.976, 30 for 29.97."""
    if not (math.isfinite(rate) and rate > 0):
        raise TimecodeError(f"a timecode rate must be a positive number, got {rate!r}")
    return max(1, round(rate))


def counts_drop_frame(rate: float) -> bool:
    """True at 29.97 and 59.94, where wall-clock timecode is drop-frame."""
    exact = exact_rate(rate)
    return round(exact) in (30, 60) and exact != round(exact)


def _drop_count(rate: float) -> int:
    """Frame numbers skipped a minute by drop-frame timecode at this rate."""
    if counts_drop_frame(rate):
        return round(rate) // 15
    raise TimecodeError(f"drop-frame timecode (';') needs 29.97 or 59.94 fps, not {rate:g}")


@dataclass(frozen=True)
class Timecode:
    hours: int
    minutes: int
    seconds: int
    frames: float  # frame within the second, sub-frame included
    drop_frame: bool = False

    @classmethod
    def parse(cls, text: str) -> "Timecode":
        """'HH:MM:SS:FF', 'HH:MM:SS;FF' (drop-frame), either with '.fff' sub-frames."""
        m = _PATTERN.fullmatch(text.strip())
        if not m:
            raise TimecodeError("is not a timecode like 00:32:09:07.867", text)
        h, mi, s, separator, ff, frac = m.groups()
        for value, (name, most) in zip((h, mi, s, ff, frac), _FIELDS):
            if value is not None and len(value) > most:
                raise TimecodeError(f"has {len(value)} digits of {name} (at most {most})", text)
        frames = int(ff) + (float("0." + frac) if frac else 0.0)
        return cls(int(h), int(mi), int(s), frames, separator == ";")

    @property
    def whole_seconds(self) -> int:
        return self.hours * 3600 + self.minutes * 60 + self.seconds

    def frame_count(self, rate: float) -> float:
        """Frames since 00:00:00:00 at the timecode's rate (what an editor's frame counter shows)."""
        base = nominal_rate(rate)
        if self.minutes > 59 or self.seconds > 59 or self.frames >= base:
            raise TimecodeError(f"is not a timecode at {rate:g} fps (minutes and seconds go to 59, "
                                f"frames to {base - 1})", str(self))
        count = self.whole_seconds * base + self.frames
        if not self.drop_frame:
            return count
        drop = _drop_count(rate)
        if self.seconds == 0 and self.frames < drop and self.minutes % 10:
            raise TimecodeError(f"does not exist in drop-frame timecode (frames 0-{drop - 1} are "
                                "skipped at the start of each minute but every tenth)", str(self))
        minutes = self.hours * 60 + self.minutes
        return count - drop * (minutes - minutes // 10)

    def seconds_at(self, rate: float) -> float:
        """Real time since 00:00:00:00: the frame count over the exact rate."""
        return self.frame_count(rate) / exact_rate(rate)

    def scene_frame(self, rate: float, scene_fps: float) -> float:
        """Frame of a scene at scene_fps where the timecode falls (frame 0 = 00:00:00:00)."""
        if not (math.isfinite(scene_fps) and scene_fps > 0):
            raise TimecodeError(f"the scene frame rate must be positive, got {scene_fps!r}")
        if math.isclose(exact_rate(rate), exact_rate(scene_fps), rel_tol=1e-9):
            return self.frame_count(rate)
        return self.seconds_at(rate) * scene_fps

    @classmethod
    def from_frame_count(cls, count: float, rate: float, drop_frame: bool | None = None) -> "Timecode":
        """The timecode of a frame count at `rate`; drop-frame by default at 29.97 and 59.94."""
        if not (math.isfinite(count) and count >= 0):
            raise TimecodeError(f"a frame count must be a number of at least 0, got {count!r}")
        base = nominal_rate(rate)
        if drop_frame is None:
            drop_frame = counts_drop_frame(rate)
        whole = math.floor(count)
        sub = count - whole
        if drop_frame:
            whole = _with_dropped(whole, _drop_count(rate), base)
        seconds, ff = divmod(whole, base)
        minutes, s = divmod(seconds, 60)
        h, mi = divmod(minutes, 60)
        return cls(h, mi, s, ff + sub, drop_frame)

    @classmethod
    def from_seconds(cls, seconds: float, rate: float, drop_frame: bool | None = None) -> "Timecode":
        """The timecode of a real time (seconds since midnight, say) at `rate`, whole frames."""
        return cls.from_frame_count(math.floor(seconds * exact_rate(rate) + 1e-6), rate, drop_frame)

    def __str__(self) -> str:
        ff = math.floor(self.frames)
        separator = ";" if self.drop_frame else ":"
        text = f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{separator}{ff:02d}"
        sub = round((self.frames - ff) * 1000)
        return text + (f".{min(sub, 999):03d}" if sub else "")


def _with_dropped(count: int, drop: int, base: int) -> int:
    """A frame count as drop-frame numbering counts it (the skipped numbers put back in)."""
    per_ten = base * 600 - drop * 9  # 17,982 frames in ten minutes at 29.97
    per_minute = base * 60 - drop  # 1,798 in each minute that drops
    tens, rest = divmod(count, per_ten)
    skipped = drop * 9 * tens
    if rest >= drop:
        skipped += drop * ((rest - drop) // per_minute)
    return count + skipped


def scene_origin(code: Timecode, scene_fps: float) -> Timecode:
    """The whole hour a take's timecode falls in, at the scene's rate: where a scene's timeline
    starts by default, so time-of-day takes land near its start frame, not hours on (Blender's
    frames end at 1,048,574: 9.7 hours at 30 fps)."""
    return Timecode(code.hours, 0, 0, 0.0, counts_drop_frame(scene_fps))


def frame_in_scene(code: Timecode, rate: float, origin: Timecode, origin_frame: float, scene_fps: float) -> float:
    """The scene frame a timecode (at `rate`) falls on when `origin` (at the scene's rate) falls
    on origin_frame."""
    return origin_frame + code.scene_frame(rate, scene_fps) - origin.frame_count(scene_fps)


def take_start(metadata: dict) -> tuple[Timecode, float] | None:
    """A take's start timecode and its rate, from its metadata (older Live Link takes have no
    `timecode_rate`: their `fps` is it); None when the take has none or it does not read."""
    text = metadata.get("start_timecode")
    rate = metadata.get("timecode_rate") or metadata.get("fps")
    if not isinstance(text, str) or not text or not isinstance(rate, (int, float)) or not rate > 0:
        return None
    try:
        code = Timecode.parse(text)
        code.frame_count(rate)
    except TimecodeError:
        return None
    return code, float(rate)
