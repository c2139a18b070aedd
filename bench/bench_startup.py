"""Start Capture -> first frame on the rig, in real Blender (bpy) with the real capture process.

The demo head, the Pexels clip as the source (real time). Timed from calling Start Capture
to the first time the rig differs from its rest pose, with the live timer emulated as
Blender runs it (live.tick(), then sleep for the interval it returns). Cold: the first Start
Capture of a fresh Blender process (a new interpreter each run); warm: later Start Captures
in one Blender, each starting a new capture process; ready: Keep Capture Ready on, so Start
Capture takes the capture process waiting in standby (model loaded, no source open), as it
waits once the panel has been shown or after a capture (the run starts once it is waiting).
Cold and warm run with Keep Capture Ready off. The OS file cache is warm in all (the machine
is shared: caches are not dropped). Median of 9 each. Target (issue 12): <= 0.3 s.

    <blender env python> bench/bench_startup.py [--runs 9]
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

import bpy

from addon import CLIP, import_addon, use_test_helpers
from bench_video_to_bake import fresh_scene

TIMEOUT_S = 30.0


def rig_state() -> list[float]:
    """Every shape key value and pose-bone transform of the demo head."""
    settings = bpy.context.scene.face_mocap
    values = [block.value for block in settings.target_mesh.data.shape_keys.key_blocks]
    for bone in settings.target_armature.pose.bones:
        values += [*bone.rotation_quaternion, *bone.rotation_euler, *bone.location]
    return values


def start_to_rig() -> float:
    """Seconds from Start Capture to the first frame on the rig; stops the capture after."""
    from face_mocap.ui import live

    from live_scene import process_gone, use_video, wait_for

    use_video(CLIP, realtime=True)
    rest = rig_state()
    started = time.perf_counter()
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    while rig_state() == rest:
        interval = live.tick()
        assert interval is not None and time.perf_counter() - started < TIMEOUT_S, "no frame reached the rig"
        time.sleep(interval)
    elapsed = time.perf_counter() - started
    pid = live.session().child.pid
    bpy.ops.facemocap.stop_capture()
    assert wait_for(lambda: process_gone(pid), 5.0)
    return elapsed


def setup(folder: Path) -> None:
    import_addon()
    use_test_helpers()
    fresh_scene(folder, processes=0)
    keep_ready(False)


def keep_ready(on: bool) -> None:
    """Keep Capture Ready on (and wait until the process kept ready has loaded its model) or off."""
    from face_mocap.link import ready
    from face_mocap.ui import keep_ready

    from live_scene import ADDON_ID, wait_for

    bpy.context.preferences.addons[ADDON_ID].preferences.keep_capture_ready = on
    if on:
        keep_ready.keep_capture_ready(bpy.context)
        assert ready.pid() is not None, "no capture process was kept ready"
        assert wait_for(ready.loaded, TIMEOUT_S), "the process kept ready never loaded its model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--cold-one", action="store_true", help=argparse.SUPPRESS)  # one cold run, JSON out
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.cold_one:
            setup(Path(tmp))
            print(json.dumps({"seconds": start_to_rig()}))
            return
        print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs", flush=True)
        cold, warm, ready = [], [], []
        setup(Path(tmp))
        start_to_rig()  # the warm series starts after one start in this Blender
        for _ in range(args.runs):
            run = subprocess.run([sys.executable, __file__, "--cold-one"], capture_output=True, text=True,
                                 check=True, cwd=Path(__file__).parent)
            cold.append(json.loads(run.stdout.strip().splitlines()[-1])["seconds"])
            warm.append(start_to_rig())
            keep_ready(True)
            ready.append(start_to_rig())
            keep_ready(False)
    for name, runs in (("cold", cold), ("warm", warm), ("ready", ready)):
        print(f"{name}: median {statistics.median(runs):.3f} s, runs {[round(x, 3) for x in runs]}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
