"""`python -m capture`: offline (--out TAKE) or live (--connect 127.0.0.1:PORT) face capture."""

from __future__ import annotations

import os

# Before OpenCV loads: its own warnings would bury our one-line error messages.
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

from .errors import EXIT_ENVIRONMENT, EXIT_INTERNAL, CaptureProcessError  # noqa: E402

REQUIRED_MODULES = ("numpy", "cv2", "mediapipe")


def missing_dependency() -> str | None:
    """The first package this interpreter lacks (a custom interpreter without mediapipe, say)."""
    return next((name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None), None)


def build_parser() -> argparse.ArgumentParser:
    """The command line (see README.md in this folder)."""
    from .landmarker import RUNNING_MODES, LandmarkerOptions
    from .progress import PROGRESS_MODES

    parser = argparse.ArgumentParser(
        prog="python -m capture",
        description="Track faces with MediaPipe FaceLandmarker: into a take file (--out) or live into Blender (--connect).")
    parser.add_argument("--source", metavar="SOURCE",
                        help="webcam:N, a video file, an image file or a folder of images (required, "
                             "except with --standby)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, metavar="TAKE", help="offline: write every frame to this take file")
    target.add_argument("--connect", metavar="127.0.0.1:PORT", help="live: stream to Blender listening here")
    src = parser.add_argument_group("source")
    src.add_argument("--width", type=int, help="camera image width to request")
    src.add_argument("--height", type=int, help="camera image height to request")
    src.add_argument("--fps", type=float, help="camera frame rate to request; frame spacing of an image folder")
    src.add_argument("--mirror", action="store_true", help="flip images left-right (selfie view)")
    src.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    mp = parser.add_argument_group("FaceLandmarker (MediaPipe's option names)")
    defaults = LandmarkerOptions()
    mp.add_argument("--model", help="face_landmarker.task (default: $FACE_MOCAP_MODEL, bundled copy, user cache)")
    mp.add_argument("--running-mode", choices=RUNNING_MODES, default=defaults.running_mode)
    mp.add_argument("--num-faces", type=int, default=defaults.num_faces)
    mp.add_argument("--min-face-detection-confidence", type=float, default=defaults.min_face_detection_confidence)
    mp.add_argument("--min-face-presence-confidence", type=float, default=defaults.min_face_presence_confidence)
    mp.add_argument("--min-tracking-confidence", type=float, default=defaults.min_tracking_confidence)
    off = parser.add_argument_group("offline (--out)")
    off.add_argument("--progress", choices=PROGRESS_MODES, default="auto",
                     help="bar on a terminal (auto), or one JSON line {done, total} per update on stdout (jsonl)")
    off.add_argument("--processes", type=int, default=1, metavar="N",
                     help="track a video file in up to N processes at once, one segment each (0 = one per CPU, "
                          "within memory; default 1)")
    off.add_argument("--segment", metavar="WARMUP_US:KEEP_US:STOP_US",
                     help="(used by --processes) track a video file from WARMUP_US, keep frames from KEEP_US "
                          "up to STOP_US (empty: the end); stops when stdin closes")
    live = parser.add_argument_group("live (--connect)")
    live.add_argument("--token-stdin", action="store_true",
                      help="read the session token from one line of stdin (default: $FACE_MOCAP_TOKEN)")
    live.add_argument("--preview-fps", type=float, default=5.0, help="preview JPEGs per second, 0 = off")
    live.add_argument("--realtime", action="store_true", help="play a video file at its own speed")
    live.add_argument("--loop", action="store_true", help="play a video file or image folder over and over")
    live.add_argument("--standby", action="store_true",
                      help="load the model, then wait for Blender's Start message with the source (no camera or "
                           "video is opened before it); its source options replace --source and the others")
    parser.add_argument("--rerun", type=Path, metavar="FILE.rrd", help="also log the session for the Rerun viewer")
    parser.add_argument("--verbose", action="store_true", help="keep MediaPipe's own log output")
    return parser


def settings_from(args: argparse.Namespace, segment: tuple[int, int, int | None] | None = None):
    """Plain settings object (CaptureSettings) from parsed arguments."""
    from .landmarker import LandmarkerOptions
    from .pipeline import CaptureSettings

    return CaptureSettings(segment=segment,
        source=args.source or "", width=args.width, height=args.height, fps=args.fps, mirror=args.mirror,
        model=args.model, max_frames=args.max_frames, realtime=args.realtime, loop=args.loop,
        quiet_native_logs=not args.verbose,
        landmarker=LandmarkerOptions(
            running_mode=args.running_mode, num_faces=args.num_faces,
            min_face_detection_confidence=args.min_face_detection_confidence,
            min_face_presence_confidence=args.min_face_presence_confidence,
            min_tracking_confidence=args.min_tracking_confidence))


def stop_when_stdin_closes(stop: threading.Event) -> None:
    """A segment worker stops when its parent is gone (its end of our stdin closes), even if killed."""
    def watch() -> None:
        try:  # the raw descriptor: a thread blocked in sys.stdin would hold its lock at exit
            while os.read(0, 1024):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit code."""
    missing = missing_dependency()
    if missing:
        print(f"error: this Python ({sys.executable}) cannot import {missing}: "
              "use an interpreter with mediapipe and opencv installed", file=sys.stderr)
        return EXIT_ENVIRONMENT
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.standby and (args.out is not None or args.source is not None):
        parser.error("--standby is for live capture (--connect) and takes its source from Blender's Start message")
    if args.source is None and not args.standby:
        parser.error("the following arguments are required: --source")
    if args.out is not None and args.running_mode == "LIVE_STREAM":
        parser.error("--out records every frame, which needs --running-mode VIDEO")
    if args.out is not None and args.loop:
        parser.error("--loop never ends, so it is for live capture (--connect) only")
    if args.max_frames is not None and args.max_frames < 1:
        parser.error("--max-frames must be at least 1")
    if args.processes < 0:
        parser.error("--processes must be 0 (one per CPU) or more")
    segment = None
    if args.segment is not None:
        from .segments import parse_segment

        if args.out is None:
            parser.error("--segment is for offline capture (--out) only")
        try:
            segment = parse_segment(args.segment)
        except ValueError as exc:
            parser.error(str(exc))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.out is not None:
            from .parallel import run_import

            if segment is not None:
                stop_when_stdin_closes(stop)
            return run_import(settings_from(args, segment), args.out, args.progress, stop, args.rerun,
                              args.processes)
        from .live import read_token, run_live

        token = read_token(args.token_stdin)
        return run_live(settings_from(args), args.connect, token, args.preview_fps, stop, args.rerun, args.standby)
    except CaptureProcessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a bug: still one line for Blender, the traceback only with --verbose
        if args.verbose:
            raise
        print(f"error: internal error {exc.__class__.__name__}: {exc} (run with --verbose for details)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
