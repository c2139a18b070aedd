"""Tracking at a cut: the second half of the Pexels clip tracked by a segment worker (as Import
Video on all cores runs it) against the same frames of a single-process run, per warm-up length.

Landmarks in pixels (max over the 478 points, and mean), blendshapes as scores; on the first
kept frame, over the first second after the cut, and over the whole segment. The single
process against itself is bit-identical, so every difference here comes from the cut.
capture/segments.py WARMUP_FRAMES is the smallest warm-up past which the figures stop falling.

    <capture env python> bench/bench_cut.py [--warmups 0 3 6 12 24 48 96]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from addon import CLIP, MODEL, REPO, import_addon


def capture(out: Path, *extra: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACE_MOCAP_MODEL": str(MODEL)}
    # stdin a pipe kept open: a segment worker stops when its stdin closes
    proc = subprocess.Popen([sys.executable, "-m", "capture", "--source", str(CLIP), "--out", str(out),
                             "--progress", "none", *extra], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.wait() != 0:
        raise SystemExit(proc.stderr.read().decode())
    proc.stdin.close()
    proc.stderr.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmups", type=int, nargs="+", default=[0, 3, 6, 12, 24, 48, 96])
    args = parser.parse_args()
    import_addon()
    from face_mocap.capture.takes import read_take

    with tempfile.TemporaryDirectory() as tmp:
        capture(Path(tmp) / "single.fmtake")
        single = read_take(Path(tmp) / "single.fmtake")
        capture(Path(tmp) / "again.fmtake")
        same = np.array_equal(read_take(Path(tmp) / "again.fmtake").landmarks, single.landmarks)
        print(f"single process twice: {'bit-identical' if same else 'DIFFERENT'}")
        cut = single.frame_count // 2
        period_us = float(np.median(np.diff(single.timestamps_us)))
        keep = round((cut - 0.5) * period_us)
        width = single.image_size[0]
        print("warm-up | first kept frame: max px, mean px, blendshape | first second: max px, mean px | "
              "whole segment: mean px, max px, blendshape max")
        for warmup in args.warmups:
            out = Path(tmp) / f"w{warmup}.fmtake"
            capture(out, "--segment", f"{max(0, keep - round(warmup * period_us))}:{keep}:")
            part = read_take(out)
            rows = slice(cut, cut + part.frame_count)
            assert np.array_equal(part.timestamps_us, single.timestamps_us[rows])
            error = np.abs(part.landmarks - single.landmarks[rows]) * width
            worst, mean = error.max(axis=(1, 2)), error.mean(axis=(1, 2))
            shapes = np.abs(part.blendshapes - single.blendshapes[rows]).max(axis=1)
            second = slice(0, round(1e6 / period_us))
            print(f"{warmup:3d} | {worst[0]:.2f}, {mean[0]:.3f}, {shapes[0]:.4f} | {worst[second].max():.2f}, "
                  f"{mean[second].mean():.3f} | {mean.mean():.3f}, {worst.max():.2f}, {shapes.max():.4f}", flush=True)


if __name__ == "__main__":
    main()
