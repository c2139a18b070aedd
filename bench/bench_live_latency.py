"""Live latency: frame received -> applied to the rig, and the main thread's time in the timer,
with the fixed 60 Hz tick (the baseline) and the tick scheduled for each frame's arrival.

Real capture process on the Pexels clip looped in real time, real Blender-side session and
rig; the two schedules alternate in rounds within one session, so they share the run. The
timer is driven as Blender drives it: call `live.tick()`, sleep the interval it returns.

    <blender env python> bench/bench_live_latency.py [--rounds 3] [--seconds 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

from addon import live_capture


def run(live, session, seconds: float) -> tuple[list[float], float, int]:
    """Drive the timer for `seconds`: (latencies of applied frames ms, tick time s, ticks)."""
    latencies: list[float] = []
    busy, ticks = 0.0, 0
    received = session.poll().frames_received
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        started = time.perf_counter()
        interval = live.tick()
        busy += time.perf_counter() - started
        ticks += 1
        if interval is None:
            raise SystemExit("the session ended")
        status = session.poll()
        if status.frames_received != received:
            received = status.frames_received
            latencies.append(status.latency_ms)
        time.sleep(interval)
    return latencies, busy, ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, live_capture(Path(tmp)) as session:
        from face_mocap.ui import live

        adaptive = (live.next_interval, live.STATUS_EVERY_S)
        fixed = (lambda due, now: live.TICK_S, 0.0)  # before: every tick at 60 Hz did everything
        results = {"fixed 60 Hz": ([], 0.0, 0), "on arrival": ([], 0.0, 0)}
        for _ in range(args.rounds):
            for name, (schedule, status_every) in (("fixed 60 Hz", fixed), ("on arrival", adaptive)):
                live.next_interval, live.STATUS_EVERY_S = schedule, status_every
                lat, busy, ticks = run(live, session, args.seconds)
                total = results[name]
                results[name] = (total[0] + lat, total[1] + busy, total[2] + ticks)
        live.next_interval, live.STATUS_EVERY_S = adaptive
        wall = args.rounds * args.seconds
        print(f"bpy {bpy.app.version_string}; {args.rounds} x {args.seconds:g} s per schedule, interleaved")
        print("| schedule | frames | received -> rig p50 / p95 ms | ticks/s | main thread in tick, ms/s |")
        print("|---|---|---|---|---|")
        for name, (lat, busy, ticks) in results.items():
            p50, p95 = np.percentile(lat, [50, 95])
            print(f"| {name} | {len(lat)} | {p50:.1f} / {p95:.1f} | {ticks / wall:.0f} | {busy / wall * 1000:.1f} |")


if __name__ == "__main__":
    main()
