"""Import Video, capture only: the real `python -m capture --out --processes 0` (a process per core)
against a bare single-process `cv2.read` + `detect_for_video` loop, same clip, same run.

Import Video is timed by wall clock from starting the process to its exit (start-up, model
load, the segment processes, the merge: all the user waits for); the bare loop from its first
frame (no start-up, no model load), so the ratio is conservative. Interleaved rounds, medians.
Target (issue 12): >= 1.5 x the bare loop on 2 cores. Clips: the Pexels clip (472 frames) and
the same clip 10 times over (made with OpenCV in a temporary folder).

    <capture env python> bench/bench_import.py [--rounds 3] [--repeats 1 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from addon import CLIP, MODEL, REPO
from bench_capture import bare_loop_fps
from clips import repeated_clip


def import_video_fps(clip: Path, out: Path, processes: int = 0) -> tuple[float, float, int, int, float]:
    """(wall-clock fps, the import's own fps from its summary, frames, processes, CPU seconds of
    all its processes) of one real import."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACE_MOCAP_MODEL": str(MODEL)}
    before = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "capture", "--source", str(clip), "--out", str(out),
                             "--processes", str(processes), "--progress", "jsonl"],
                            env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    out.unlink()
    cpu = _children_cpu() - before  # the import and its segment processes (each waited for by its parent)
    return summary["frames"] / wall, summary["fps"], summary["frames"], summary.get("processes", 1), cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--one-process", action="store_true", help="also time the import with --processes 1")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for repeats in args.repeats:
            clip, frames = repeated_clip(CLIP, repeats, Path(tmp) / f"pexels_x{repeats}.mp4")
            bare, wall, own, one, cpu = [], [], [], [], {1: [], 0: []}
            for _ in range(args.rounds):
                bare.append(bare_loop_fps(clip, MODEL)[0])
                fps, summary_fps, count, processes, seconds = import_video_fps(clip, Path(tmp) / "import.fmtake")
                assert count == frames, (count, frames)
                wall.append(fps)
                own.append(summary_fps)
                cpu[0].append(seconds)
                if args.one_process:  # the import as it was before issue 12
                    one_fps, _, _, _, seconds = import_video_fps(clip, Path(tmp) / "import.fmtake", processes=1)
                    one.append(one_fps)
                    cpu[1].append(seconds)
            b, w, o = statistics.median(bare), statistics.median(wall), statistics.median(own)
            print(f"x{repeats} ({frames} frames): bare loop {b:.1f} fps | Import Video {w:.1f} fps wall clock "
                  f"({o:.1f} fps from its own first frame), {processes} processes | ratio {w / b:.2f} "
                  f"(own {o / b:.2f}) | rounds bare {[round(x, 1) for x in bare]} import {[round(x, 1) for x in wall]}"
                  f" | CPU {statistics.median(cpu[0]):.1f} s", flush=True)
            if one:
                print(f"x{repeats}: Import Video in one process {statistics.median(one):.1f} fps wall clock, CPU "
                      f"{statistics.median(cpu[1]):.1f} s | all cores / one process {w / statistics.median(one):.2f}",
                      flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
