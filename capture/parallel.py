"""Offline capture on all cores: one capture process per segment of the clip, merged in order.

The parent (`python -m capture --out TAKE --processes N`) starts one tracking process per
segment, each told its share of the clip and cutting it as the parent does (segment_workers.py,
segments.py); each writes its own segment take into a folder next to TAKE. The parent adds up
their progress and copies each finished segment, chunk by chunk, into one TakeWriter as soon
as every segment before it is in: memory stays at one chunk whatever the length. The workers share the parent's process group, so Blender's
Cancel (a signal to the group) stops them all; a worker whose parent is gone (its stdin
closes) stops by itself. The segment folder is removed however the run ends.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from pathlib import Path

import numpy as np

from .errors import EXIT_INTERRUPTED, EXIT_OK, OutputError
from .face_choice import FaceTracker
from .offline import print_summary, run_offline, take_metadata
from .pipeline import open_inputs
from .progress import Progress
from .segment_workers import POLL_S, SegmentWorker, may_split, start_workers
from .segments import Segment, available_memory, plan_shares, remove_segments, segment_count, worker_count
from .settings import CaptureSettings
from .sources import clip_length
from .take_format import COUNT, face_slots
from .take_people import retrack
from .take_read import TakeScan, copy_chunk, open_take
from .takes import MAX_CHUNK_FRAMES, TakeError, TakeWriter, frame_fields

class _Merge:
    """The take being assembled: segment takes appended in order, renumbered, in whole chunks.

    With several faces a frame, who is who is chosen again over the merged frames, in order, as
    one process would (each segment's worker chose on its own): one person keeps one id, and the
    performer stays the performer, across every cut."""

    def __init__(self, out: Path, metadata: dict) -> None:
        try:
            self.writer = TakeWriter(out, metadata)
        except OSError as exc:
            raise OutputError(f"cannot write take '{out}': {exc.strerror or exc}") from None
        self.out = out
        self.size = metadata["image_size"]
        self.people = FaceTracker() if face_slots(metadata) > 1 else None
        self.frames = 0
        self.first_us = self.last_us = 0
        self._pending: list[dict[str, np.ndarray]] = []
        self._pending_frames = 0

    def add(self, segment_take: Path) -> None:
        """Append every frame of one finished segment take."""
        try:
            with open_take(segment_take) as file:
                scan = TakeScan(file, segment_take.name)
                count = 0
                for chunk in scan.frames():
                    arrays = _chunk_arrays(scan, chunk)
                    count += chunk.count
                    self._queue(arrays)
                if not scan.outcome(count)[1]:
                    raise TakeError(f"segment take '{segment_take.name}' is incomplete")
        except OSError as exc:
            raise OutputError(f"cannot read segment take '{segment_take}': {exc.strerror or exc}") from None
        except TakeError as exc:
            raise OutputError(str(exc)) from None

    def _queue(self, arrays: dict[str, np.ndarray]) -> None:
        count = len(arrays["timestamps_us"])
        if not count:
            return
        arrays["frame_indices"] = np.arange(self.frames, self.frames + count, dtype=np.int64)
        if self.people is not None:
            arrays = retrack(arrays, self.people, *self.size)
        if not self.frames:
            self.first_us = int(arrays["timestamps_us"][0])
        self.last_us = int(arrays["timestamps_us"][-1])
        self.frames += count
        self._pending.append(arrays)
        self._pending_frames += count
        if self._pending_frames >= MAX_CHUNK_FRAMES:
            self._write()

    def _write(self) -> None:
        if not self._pending:
            return
        joined = {name: np.concatenate([block[name] for block in self._pending]) for name in self._pending[0]}
        self._pending, self._pending_frames = [], 0
        try:
            self.writer.append_arrays(joined)
        except OSError:
            raise OutputError(f"cannot write take '{self.out}': {self.writer.kept_error()}") from None

    def finish(self, final_metadata: dict) -> None:
        self._write()
        try:
            self.writer.finish(final_metadata)
        except TakeError as exc:
            raise OutputError(f"cannot finish take '{self.out}': {exc}") from None

    def abort(self) -> None:
        self.writer.abort()


def _chunk_arrays(scan: TakeScan, chunk) -> dict[str, np.ndarray]:
    """One FRMS chunk as arrays (checksum verified; at most MAX_CHUNK_FRAMES frames in memory)."""
    pieces: list[bytes] = []
    if not copy_chunk(scan.file, chunk, pieces.append):
        raise TakeError(f"checksum mismatch in '{scan.name}' at byte {chunk.offset}")
    payload, offset, arrays = b"".join(pieces), COUNT.size, {}
    for name, dtype, shape in frame_fields(scan.channel_count, scan.geometry, scan.slots):
        size = chunk.count * int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(payload, dtype, size, offset).reshape(chunk.count, *shape)
        offset += size * dtype.itemsize
    return arrays


def run_parallel(settings: CaptureSettings, out: Path, source, segments: list[Segment],
                 workers: list[SegmentWorker], progress_mode: str, stop: threading.Event) -> int:
    """Track `segments` of an opened video file into `out`, one per worker; return the exit code."""
    width, height = source.size
    metadata = {**take_metadata(settings, source, width, height), "processes": len(segments)}
    merge: _Merge | None = None
    try:
        merge = _Merge(out, metadata)
        progress = Progress(progress_mode, source.total)
        started = time.monotonic()
        merged = 0
        while merged < len(workers):
            if stop.is_set():
                raise KeyboardInterrupt
            while merged < len(workers) and workers[merged].finished():
                if workers[merged].proc.returncode != 0:
                    raise workers[merged].failure()
                merge.add(workers[merged].path)
                workers[merged].path.unlink()
                merged += 1
            failed = next((w for w in workers[merged:] if w.finished() and w.proc.returncode != 0), None)
            if failed is not None:
                raise failed.failure()
            progress.update(sum(w.done for w in workers))
            stop.wait(POLL_S)
        summaries = [w.summary for w in workers]
        with_face = sum(s.get("frames_with_face", 0) for s in summaries)
        max_faces = max((s.get("max_faces", 0) for s in summaries), default=0)
        finishing, merge = merge, None
        finishing.finish({"frames_with_face": with_face, "max_faces": max_faces})
        elapsed = time.monotonic() - started
        progress.finish(finishing.frames)
    except KeyboardInterrupt:
        print("interrupted: no take written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for worker in workers:
            worker.stop()
        if merge is not None:
            merge.abort()
    frames = finishing.frames
    print_summary({
        "out": str(out), "source": source.description, "frames": frames, "frames_with_face": with_face,
        "frames_without_face": frames - with_face, "max_faces": max_faces,
        "duration_s": round((finishing.last_us - finishing.first_us) / 1e6, 3), "elapsed_s": round(elapsed, 3),
        "fps": round(frames / max(elapsed, 1e-9), 1), "processes": len(workers),
    }, progress_mode)
    return 0


def run_import(settings: CaptureSettings, out: Path, progress_mode: str, stop: threading.Event,
               rerun_path: Path | None = None, processes: int = 1, workers: list[SegmentWorker] = ()) -> int:
    """Offline capture into `out`: a video file long enough to gain from it in segments on up to
    `processes` CPUs (0 = all), one per worker (started early by the caller when the clip's
    header gave its length: segment_workers.start_early); else in this process. Every worker
    is stopped when this returns."""
    workers = list(workers)
    try:
        if workers or may_split(settings, processes, rerun_path is not None):
            _, source = open_inputs(settings)  # every input problem shows up before anything is written
            try:
                if not workers:  # its length is known now
                    count = segment_count(source.total, worker_count(processes, memory=available_memory()))
                    workers = start_workers(settings, out, count)
                if workers:
                    segments = plan_shares(source.total, source.fps, len(workers))  # as each worker plans it
                    return run_parallel(settings, out, source, segments, workers[:len(segments)], progress_mode,
                                        stop)
            finally:
                source.close()
    finally:
        for worker in workers:  # any a header's length did not need have left by themselves
            worker.stop()
        if workers:
            remove_segments(out)  # however the import ended
    return run_offline(settings, out, progress_mode, stop, rerun_path)


def run_share(settings: CaptureSettings, out: Path, share: tuple[int, int], progress_mode: str,
              stop: threading.Event) -> int:
    """A worker's share of a video file (--segment K/N): its segment, cut as the import cuts it,
    tracked into `out`; nothing (before MediaPipe loads) if the clip is too short to need it."""
    index, workers = share
    plan = plan_shares(*clip_length(settings.source), workers)
    if index >= len(plan):  # not JSON, so an import reading our progress passes over it
        print(f"share {index}/{workers} not needed: the clip makes {len(plan)} segment(s)", flush=True)
        return EXIT_OK
    return run_offline(dataclasses.replace(settings, segment=plan[index].bounds()), out, progress_mode, stop)
