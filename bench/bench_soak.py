"""Soak: a long live capture with recording, through the real capture process and the real
Blender-side session, on a looped clip played in real time (not run by CI).

Every minute it prints both processes' memory (resident now and peak), the frames the
capture process sent (its frame index), received and recorded, and the receive -> rig
latency percentiles of that minute. At the end: the take read back (frames, gaps).

    <blender env python> bench/bench_soak.py [--minutes 30] [--clip PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

from addon import CLIP, live_capture


def memory_mb(pid: int | str = "self") -> tuple[float, float]:
    """(resident, peak resident) of a process in MB (Linux /proc)."""
    values = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clip", type=Path, default=CLIP)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, live_capture(Path(tmp), args.clip) as session:
        from face_mocap.capture.takes import read_take
        from face_mocap.ui import live, takes_io

        bpy.ops.facemocap.record()
        print(f"bpy {bpy.app.version_string}; clip {args.clip.name} looped in real time; "
              f"{args.minutes:g} min", flush=True)
        print("| minute | capture RSS (peak) MB | Blender RSS (peak) MB | sent | received | recorded "
              "| latency p50 / p95 / p99 ms |", flush=True)
        print("|---|---|---|---|---|---|---|", flush=True)
        started = next_report = time.monotonic()
        latencies: list[float] = []
        received = 0
        while time.monotonic() - started < args.minutes * 60.0:
            interval = live.tick()
            if interval is None:
                raise SystemExit(f"the session ended: {bpy.context.window_manager.face_mocap.last_error}")
            status = session.poll()
            if status.frames_received != received:  # a new frame was applied this tick
                received = status.frames_received
                latencies.append(status.latency_ms)
            if time.monotonic() >= next_report + 60.0:
                next_report += 60.0
                newest = session.peek_frame()
                child_now, child_peak = memory_mb(session.child.pid)
                own_now, own_peak = memory_mb()
                p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
                print(f"| {(next_report - started) / 60:.0f} | {child_now:.0f} ({child_peak:.0f}) "
                      f"| {own_now:.0f} ({own_peak:.0f}) | {newest.index + 1 if newest else 0} "
                      f"| {status.frames_received} | {status.frames_recorded} "
                      f"| {p50:.1f} / {p95:.1f} / {p99:.1f} |", flush=True)
                latencies.clear()
            time.sleep(interval)  # what Blender's timer does with the returned interval
        bpy.ops.facemocap.stop_recording()
        take_path = takes_io.resolve(bpy.context.scene.face_mocap.takes[0])
        take = read_take(take_path)
        gaps = int(np.count_nonzero(np.diff(take.frame_indices) != 1))
        print(f"take: {take.frame_count} frames, {take.duration_s / 60:.1f} min, "
              f"{take_path.stat().st_size / 1e6:.0f} MB, {gaps} gaps in the frame indices, "
              f"complete={take.complete}", flush=True)


if __name__ == "__main__":
    main()
