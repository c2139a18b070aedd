"""Splitting a clip for Import Video on all cores: how many processes, and where each one cuts.

Pure functions and plain data (standard library only): Blender imports this module too, to
find and remove a cancelled import's segment folder.

Segments are cut by timestamp, not by frame number: OpenCV's seek lands on the wrong frame
in some containers (MPEG-PS, QuickTime), but the timestamp it reports for the frame it
lands on is right, so a worker that seeks near its cut and keeps exactly the frames whose
timestamps fall in [keep_from_us, stop_us) loses and repeats none.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

WARMUP_FRAMES = 24  # tracked before each cut, not kept: more no longer brings the cut closer (BENCHMARKS.md)
MIN_SEGMENT_FRAMES = 120  # shorter segments are not worth a process start (about 0.3 s each)
PROCESS_BYTES = 300 * 1024 * 1024  # a FaceLandmarker process (measured ~200 MB RSS) plus headroom
PREFETCH_FRAMES = 8  # decoded frames queued ahead of inference (sources.prefetch)


@dataclass(frozen=True)
class Segment:
    """One worker's share: track from warmup_from_us, write [keep_from_us, stop_us) (stop None = to the end)."""

    index: int
    warmup_from_us: int
    keep_from_us: int
    stop_us: int | None
    frames: int  # expected frames kept, for progress

    def argument(self) -> str:
        """The --segment value that hands this share to a capture process."""
        stop = "" if self.stop_us is None else str(self.stop_us)
        return f"{self.warmup_from_us}:{self.keep_from_us}:{stop}"


def parse_segment(text: str) -> tuple[int, int, int | None]:
    """(warmup_from_us, keep_from_us, stop_us) from a --segment value; ValueError if malformed."""
    parts = text.split(":")
    numbers = [parts[0], parts[1], parts[2] or "0"] if len(parts) == 3 else []  # an empty STOP_US: the end
    if not numbers or not all(number.isdecimal() for number in numbers):
        raise ValueError(f"--segment takes WARMUP_US:KEEP_US:STOP_US (whole microseconds), not {text!r}")
    warmup, keep = int(parts[0]), int(parts[1])
    stop = int(parts[2]) if parts[2] else None
    if not 0 <= warmup <= keep or (stop is not None and stop <= keep):
        raise ValueError(f"--segment needs 0 <= WARMUP_US <= KEEP_US < STOP_US, not {text!r}")
    return warmup, keep, stop


def cpu_count() -> int:
    """CPUs this process may run on."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13: honours affinity everywhere
    if counter is not None:
        return counter() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes of memory available without swapping, or None where we cannot tell cheaply."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/meminfo", encoding="ascii") as meminfo:
                for line in meminfo:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
    return None


def process_count(cap: int, frames: int | None, frame_bytes: int, cpus: int | None = None,
                  memory: int | None = None) -> int:
    """How many tracking processes to run: one per CPU, at most `cap` (0 = no cap), within
    memory, and no segment shorter than MIN_SEGMENT_FRAMES (an unknown length gets one)."""
    count = cpus if cpus is not None else cpu_count()
    if cap > 0:
        count = min(count, cap)
    if memory is not None:
        count = min(count, memory // (PROCESS_BYTES + PREFETCH_FRAMES * frame_bytes))
    if not frames:
        return 1
    return max(1, min(count, frames // MIN_SEGMENT_FRAMES))


def plan_segments(frames: int, fps: float, processes: int, warmup_frames: int = WARMUP_FRAMES) -> list[Segment]:
    """`processes` segments, cut half a frame before a nominal frame time (so a cut never sits on
    a timestamp), each warmed up on the `warmup_frames` before its cut.

    Each process tracks about as many frames as the others, warm-up included: the first
    segment (no warm-up) keeps `warmup_frames` more than the rest, so no process is left
    tracking alone at the end while the other cores wait."""
    period_us = 1e6 / fps
    first = (frames + (processes - 1) * warmup_frames) / processes  # frames tracked by each process
    if processes == 1 or first - warmup_frames < 1:  # too short for that: equal kept frames
        first = frames / processes
    rest = (frames - first) / max(processes - 1, 1)
    cuts = [0] + [round(first + k * rest) for k in range(processes - 1)] + [frames]
    segments = []
    for k in range(processes):
        keep = 0 if k == 0 else round((cuts[k] - 0.5) * period_us)
        stop = None if k == processes - 1 else round((cuts[k + 1] - 0.5) * period_us)
        warmup = max(0, keep - round(warmup_frames * period_us)) if k else 0
        segments.append(Segment(k, warmup, keep, stop, cuts[k + 1] - cuts[k]))
    return segments


def segment_folder(out: Path) -> Path:
    """Where the workers of an import into `out` write their segment takes (next to it: one file system)."""
    return out.with_name(f".{out.name}.segments")


def remove_segments(out: Path) -> None:
    """Delete a finished or cancelled import's segment folder, if any."""
    shutil.rmtree(segment_folder(out), ignore_errors=True)
