"""Import Video, capture only: the real `python -m capture --out --processes 0` (a process per core)
against a bare single-process `cv2.read` + `detect_for_video` loop, same clip, same run.

Import Video is timed by wall clock from starting the process to its exit (start-up, model
load, the segment processes, the merge: all the user waits for); the bare loop from its first
frame (no start-up, no model load), so the ratio is conservative. Interleaved rounds, medians.
Target (issue 12): >= 1.5 x the bare loop on 2 cores. Clips: the Pexels clip (472 frames) and
the same clip 10 times over (made with OpenCV in a temporary folder).

    <capture env python> bench/bench_import.py [--rounds 3] [--repeats 1 10]
    <capture env python> bench/bench_import.py --phases [--repeats 1 10]

--phases: one import per clip, its processes sampled from /proc every 20 ms (Linux): when the
segment processes start, the first frame tracked, when each ends and its CPU seconds, and the
merge after the last one: where the wall-clock time of an import goes.
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
import threading
import time
from pathlib import Path

from addon import CLIP, MODEL, REPO, import_addon
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


def import_phases(clip: Path, out: Path) -> str:
    """One import with --processes 0, its parent and segment processes watched through /proc."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACE_MOCAP_MODEL": str(MODEL)}
    tick = os.sysconf("SC_CLK_TCK")
    started = time.monotonic()
    parent = subprocess.Popen([sys.executable, "-m", "capture", "--source", str(clip), "--out", str(out),
                               "--processes", "0", "--progress", "jsonl"], env=env, stdout=subprocess.PIPE, text=True)
    first_frame: list[float] = []

    def read_progress() -> None:
        for line in parent.stdout:
            if not first_frame and '"done"' in line and '"done": 0' not in line:
                first_frame.append(time.monotonic() - started)

    reader = threading.Thread(target=read_progress, daemon=True)
    reader.start()
    seen: dict[int, list[float]] = {}  # pid -> [first seen, last seen, CPU seconds]
    while parent.poll() is None:
        now = time.monotonic() - started
        for pid in [parent.pid, *_segment_pids(out)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            entry = seen.setdefault(pid, [now, now, 0.0])
            entry[1:] = [now, (int(fields[11]) + int(fields[12])) / tick]
        time.sleep(0.02)
    total = time.monotonic() - started
    reader.join()
    out.unlink()
    workers = sorted((v for k, v in seen.items() if k != parent.pid), key=lambda v: v[0])
    last_end = max(end for _, end, _ in workers)
    ends = ", ".join(f"{end:.2f} s ({cpu:.1f} s CPU)" for _, end, cpu in workers)
    return (f"segment processes started at {workers[0][0]:.2f} s | first frame tracked at {first_frame[0]:.2f} s | "
            f"segment processes ended at {ends} | merge and exit after the last one {total - last_end:.2f} s | "
            f"parent CPU {seen[parent.pid][2]:.1f} s | total {total:.2f} s")


def _segment_pids(out: Path) -> list[int]:
    """The segment processes of an import into `out` (their own --out is in its segment folder)."""
    from face_mocap.capture.segments import segment_folder

    needle = str(segment_folder(out)).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--one-process", action="store_true", help="also time the import with --processes 1")
    parser.add_argument("--phases", action="store_true", help="where one import's time goes, per clip")
    args = parser.parse_args()
    import_addon()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for repeats in args.repeats:
            clip, frames = repeated_clip(CLIP, repeats, Path(tmp) / f"pexels_x{repeats}.mp4")
            if args.phases:
                print(f"x{repeats} ({frames} frames), load {os.getloadavg()[0]:.1f}: "
                      f"{import_phases(clip, Path(tmp) / 'import.fmtake')}", flush=True)
                continue
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
