"""Offline capture on all cores: one capture process per segment of the clip, merged in order.

The parent (`python -m capture --out TAKE --processes N`) plans the cuts (segments.py), starts
one `python -m capture --segment ...` per segment, each writing its own segment take into a
folder next to TAKE, adds up their progress, and copies each finished segment, chunk by
chunk, into one TakeWriter as soon as every segment before it is in: memory stays at one
chunk whatever the length. The workers share the parent's process group, so Blender's
Cancel (a signal to the group) stops them all; a worker whose parent is gone (its stdin
closes) stops by itself. The segment folder is removed however the run ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from .errors import EXIT_INTERRUPTED, CaptureProcessError, OutputError
from .face_choice import FaceTracker
from .offline import print_summary, run_offline, take_metadata
from .pipeline import CaptureSettings, is_video_file, open_inputs
from .progress import Progress
from .segments import Segment, available_memory, plan_segments, process_count, remove_segments, segment_folder
from .sources import VideoFileSource
from .take_format import COUNT, face_slots
from .take_people import retrack
from .take_read import TakeScan, copy_chunk, open_take
from .takes import MAX_CHUNK_FRAMES, TakeError, TakeWriter, frame_fields

POLL_S = 0.05


class WorkerFailed(CaptureProcessError):
    """A segment's capture process failed; carries its exit code and its one-line error."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Worker:
    """One segment's capture process, its progress and its last words."""

    def __init__(self, segment: Segment, path: Path, command: list[str]) -> None:
        self.segment, self.path = segment, path
        self.done = 0
        self.summary: dict = {}
        self.errors: list[str] = []
        # stdin stays open and unused: the worker stops when it closes (this process is gone)
        # Windows: no console window of its own (the import runs without one)
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        self._readers = [threading.Thread(target=self._read_progress, daemon=True),
                         threading.Thread(target=self._read_errors, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_progress(self) -> None:
        for line in self.proc.stdout:
            try:
                update = json.loads(line)
            except ValueError:
                continue
            if isinstance(update, dict) and isinstance(update.get("done"), int):
                self.done = update["done"]
            elif isinstance(update, dict) and isinstance(update.get("summary"), dict):
                self.summary = update["summary"]

    def _read_errors(self) -> None:
        for line in self.proc.stderr:
            self.errors = (self.errors + [line.rstrip()])[-20:]

    def finished(self) -> bool:
        """True once the process has ended and its output is read."""
        if self.proc.poll() is None:
            return False
        for reader in self._readers:
            reader.join()
        return True

    def failure(self) -> WorkerFailed:
        last = next((line for line in reversed(self.errors) if line.startswith("error: ")), "")
        message = last.removeprefix("error: ") or f"a tracking process exited with code {self.proc.returncode}"
        return WorkerFailed(message, self.proc.returncode or 1)

    def stop(self) -> None:
        """End the process (it is asked first: SIGTERM) and wait for it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()


def worker_command(settings: CaptureSettings, model: Path, segment: Segment, out: Path) -> list[str]:
    """`python -m capture` for one segment, with the same MediaPipe options as the whole import."""
    options = settings.landmarker
    command = [sys.executable, "-m", __package__, "--source", settings.source, "--out", str(out),
               "--segment", segment.argument(), "--progress", "jsonl", "--model", str(model),
               "--num-faces", str(options.num_faces),
               "--min-face-detection-confidence", repr(options.min_face_detection_confidence),
               "--min-face-presence-confidence", repr(options.min_face_presence_confidence),
               "--min-tracking-confidence", repr(options.min_tracking_confidence)]
    return command + (["--mirror"] if settings.mirror else [])


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


def run_parallel(settings: CaptureSettings, out: Path, model: Path, source, segments: list[Segment],
                 progress_mode: str, stop: threading.Event) -> int:
    """Track `segments` of an opened video file in parallel into `out`; return the exit code."""
    width, height = source.size
    metadata = {**take_metadata(settings, source, width, height), "processes": len(segments)}
    total = source.total
    folder = segment_folder(out)
    remove_segments(out)  # what a killed earlier run left
    folder.mkdir(parents=True)
    workers: list[_Worker] = []
    merge: _Merge | None = None
    try:
        merge = _Merge(out, metadata)
        progress = Progress(progress_mode, total)
        started = time.monotonic()
        workers = [_Worker(s, folder / f"{s.index:03d}.fmtake",
                           worker_command(settings, model, s, folder / f"{s.index:03d}.fmtake")) for s in segments]
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
        remove_segments(out)
    frames = finishing.frames
    print_summary({
        "out": str(out), "source": source.description, "frames": frames, "frames_with_face": with_face,
        "frames_without_face": frames - with_face, "max_faces": max_faces,
        "duration_s": round((finishing.last_us - finishing.first_us) / 1e6, 3), "elapsed_s": round(elapsed, 3),
        "fps": round(frames / max(elapsed, 1e-9), 1), "processes": len(workers),
    }, progress_mode)
    return 0


def run_import(settings: CaptureSettings, out: Path, progress_mode: str, stop: threading.Event,
               rerun_path: Path | None = None, processes: int = 1) -> int:
    """Offline capture into `out`: in segments on up to `processes` CPUs (0 = all) when the input
    is a video file long enough to gain from it, else in this process."""
    if (processes != 1 and rerun_path is None and settings.max_frames is None and settings.segment is None
            and is_video_file(settings.source)):  # never opens a camera twice
        model, source = open_inputs(settings)  # every input problem shows up before anything is started
        try:
            if isinstance(source, VideoFileSource) and source.total:
                width, height = source.size
                count = process_count(processes, source.total, width * height * 3, memory=available_memory())
                if count > 1:
                    segments = plan_segments(source.total, source.fps, count)
                    return run_parallel(settings, out, model, source, segments, progress_mode, stop)
        finally:
            source.close()
    return run_offline(settings, out, progress_mode, stop, rerun_path)
