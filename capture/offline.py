"""Offline mode: a whole video (or images) into a take file, as fast as the CPU allows."""

from __future__ import annotations

import datetime
import json
import os
import sys
import threading
import time
from pathlib import Path

from .errors import EXIT_INTERRUPTED, EXIT_OK, OutputError
from .face_choice import FaceTracker
from .landmarker import Landmarker
from .model import MODEL_SHA256
from .pipeline import CaptureSettings, open_inputs, track
from .progress import Progress
from .protocol import BLENDSHAPE_NAMES, FaceFrame
from .sources import VideoFileSource
from .takes import TakeError, TakeWriter


def source_path(source) -> dict:
    """{"source_path": the video file's absolute path} for a video file source (its sound and
    picture can be laid beside a bake), else {}."""
    path = getattr(source, "path", None)
    return {"source_path": os.path.abspath(path)} if isinstance(source, VideoFileSource) and path else {}


def take_metadata(settings: CaptureSettings, source, width: int, height: int, first_us: int = 0) -> dict:
    """What a take records about how it was captured; first_us: the first kept frame's timestamp."""
    options = settings.landmarker
    timecode = source.start_timecode(first_us)
    return {
        **(timecode.metadata() if timecode is not None else {}),
        "source": source.description,
        **source_path(source),
        "image_size": [width, height],
        "fps": source.fps,
        "mirror": settings.mirror,
        "running_mode": options.running_mode,
        "num_faces": options.num_faces,
        "face_slots": options.num_faces,  # every face MediaPipe may find, each with its person id
        "min_face_detection_confidence": options.min_face_detection_confidence,
        "min_face_presence_confidence": options.min_face_presence_confidence,
        "min_tracking_confidence": options.min_tracking_confidence,
        "model_sha256": MODEL_SHA256,
        "blendshape_names": list(BLENDSHAPE_NAMES),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "producer": "face_mocap.capture",
    }


def _open_writer(out: Path, metadata: dict) -> TakeWriter:
    try:
        return TakeWriter(out, metadata)
    except OSError as exc:
        raise OutputError(f"cannot write take '{out}': {exc.strerror or exc}") from None


class _Stats:
    """Counts for the summary."""

    def __init__(self) -> None:
        self.frames = self.with_face = self.max_faces = 0
        self.first_us = self.last_us = 0

    def add(self, result: FaceFrame) -> None:
        if not self.frames:
            self.first_us = result.timestamp_us
        self.last_us = result.timestamp_us
        self.frames += 1
        self.with_face += bool(result.faces)
        self.max_faces = max(self.max_faces, len(result.faces))


def run_offline(settings: CaptureSettings, out: Path, progress_mode: str = "auto",
                stop: threading.Event | None = None, rerun_path: Path | None = None) -> int:
    """Capture every frame into `out` atomically and print a summary; return the exit code."""
    stop = stop or threading.Event()
    model_path, source = open_inputs(settings)  # every input problem shows up before anything is written
    writer = rerun = None
    try:
        with Landmarker(model_path, settings.landmarker, quiet=settings.quiet_native_logs) as landmarker:
            if rerun_path is not None:
                from .rerun_log import RerunLogger

                rerun = RerunLogger(rerun_path, model_path)
            total = source.total if settings.max_frames is None else min(source.total or settings.max_frames,
                                                                        settings.max_frames)
            progress, stats = Progress(progress_mode, total), _Stats()
            started = time.monotonic()
            keep_from_us = settings.segment[1] if settings.segment else None
            people = FaceTracker()  # the take holds the performer first and everyone with an id, as live
            for frame, found in track(source, landmarker, stop, settings.max_frames):
                tracked = people.track(found)  # also in a segment's warm-up: it settles there
                result = tracked.performer_frame()
                if keep_from_us is not None and result.timestamp_us < keep_from_us:
                    continue  # a segment's warm-up: tracked so tracking has settled at the cut, not kept
                if writer is None:  # the image size is known now
                    writer = _open_writer(out, take_metadata(settings, source, result.width, result.height,
                                                                     result.timestamp_us))
                try:
                    writer.append(tracked)
                except OSError:  # e.g. disk full: what was written stays in the .partial, never deleted
                    failed, writer = writer, None
                    raise OutputError(f"cannot write take '{out}': {failed.kept_error()}") from None
                if rerun:
                    rerun.log(frame, result)
                stats.add(result)
                progress.update(stats.frames)
            if stop.is_set() and not source.is_live:  # a camera recording ends by being stopped
                raise KeyboardInterrupt
            if writer is None and settings.segment:  # a cut past the real end (a frame count that lied)
                writer = _open_writer(out, take_metadata(settings, source, 0, 0))
            if writer is None:
                raise OutputError(f"'{source.description}' delivered no frames; no take written")
            finishing, writer = writer, None  # a failed finish keeps the .partial: no abort below
            try:
                finishing.finish({"frames_with_face": stats.with_face, "max_faces": stats.max_faces})
            except TakeError as exc:
                raise OutputError(f"cannot finish take '{out}': {exc}") from None
            elapsed = time.monotonic() - started  # decode, inference, encoding and writing
            progress.finish(stats.frames)
            if rerun:
                rerun.finish()
                rerun = None
    except KeyboardInterrupt:
        print("interrupted: no take written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if writer is not None:
            writer.abort()
        if rerun is not None:
            rerun.abort()
        source.close()
    print_summary({
        "out": str(out), "source": source.description, "frames": stats.frames,
        "frames_with_face": stats.with_face, "frames_without_face": stats.frames - stats.with_face,
        "max_faces": stats.max_faces, "duration_s": round((stats.last_us - stats.first_us) / 1e6, 3),
        "elapsed_s": round(elapsed, 3), "fps": round(stats.frames / max(elapsed, 1e-9), 1),
        **({"rerun": str(rerun_path)} if rerun_path else {}),
    }, progress_mode)
    return EXIT_OK


def print_summary(summary: dict, progress_mode: str) -> None:
    """The summary line: JSON with --progress jsonl, a sentence otherwise."""
    if progress_mode == "jsonl":
        print(json.dumps({"summary": summary}), flush=True)
        return
    print(f"wrote {summary['out']}: {summary['frames']} frames of {summary['source']} "
          f"({summary['frames_with_face']} with a face, {summary['frames_without_face']} without; "
          f"up to {summary['max_faces']} face(s) in a frame), {summary['duration_s']:.2f} s of video, "
          f"processed at {summary['fps']:.1f} fps")
