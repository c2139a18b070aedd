"""Two people at the length people record, baked onto two characters in Blender: the two-person
clip (tests/capture/two_people.py: real GRID speakers who walk past each other, tracked by the
real capture process with --num-faces 2) repeated end to end through the take writer to
100,080 frames (timestamps continued; a version 3 take of 1.2 GB, 67 minutes at 25 fps).

Bake Take bakes the demo head (the targets: the performer) and a second demo head (a character:
the other person) one key per frame, each still on its own person in the last repeat, in memory
bounded per frame of the take."""

from __future__ import annotations

import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from bake_scene import action_keys, channelbag_fcurves, check_one_key_per_frame, check_same_ends
from face_mocap.capture.takes import read_take, take_info
from face_mocap.mapping.keyframes import frame_count
from face_mocap.ui import takes_io
from people_scene import check_each_head_follows_its_person, jaw_by_person, performer_of, two_heads
from take_corpus import peak_of, repeated_take

FRAMES = 100_000
MB = 1e6
JAW_PATH = 'key_blocks["jawOpen"].value'


@pytest.fixture(scope="module")
def long_two_take(clip_and_take, tmp_path_factory) -> tuple[Path, Path, int]:
    """(the clip's take, the take repeated to FRAMES or more, the number of repeats); the long one
    is deleted after the module."""
    _, short = clip_and_take
    long = tmp_path_factory.mktemp("long_two") / "LongTwo.fmtake"
    repeats = -(-FRAMES // take_info(short).frame_count)
    started = time.perf_counter()
    repeated_take(short, repeats, long)
    print(f"\n{repeats} repeats written in {time.perf_counter() - started:.1f} s")
    yield short, long, repeats
    long.unlink()


def head_actions(take: str, objects) -> list[bpy.types.Action]:
    """The actions a bake of `take` made for one head (its shape keys, its armature)."""
    names = {f"{take}_{obj.name}{suffix}" for obj in objects for suffix in ("", "_shapes")}
    return [action for action in bpy.data.actions if action.name in names]


def test_two_people_in_a_100k_frame_take_bake_onto_two_heads_each_following_its_own_person(
        addon, long_two_take):
    short, long, repeats = long_two_take
    clip, info = read_take(short), take_info(long)
    frames, fps = info.frame_count, info.metadata["fps"]
    step_us = int(clip.timestamps_us[-1] - clip.timestamps_us[0]) + round(1e6 / fps)
    assert frames == repeats * clip.frame_count >= FRAMES and info.metadata["face_slots"] == 2
    assert fps == 25.0 and (np.diff(clip.timestamps_us) == 40_000).all() and step_us == clip.frame_count * 40_000
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0  # the take's rate: one key per take frame
    assert frame_count(info.duration_s, scene.render.fps / scene.render.fps_base) == frames
    first, second = two_heads()
    settings = scene.face_mocap
    heads = {"first": (first, settings.target_armature), "second": (second, settings.characters[0].armature)}
    start = settings.bake_start_frame
    takes_io.list_take(scene, long, "Long")

    started = time.perf_counter()
    result, peak = peak_of(lambda: bpy.ops.facemocap.bake_take())
    seconds = time.perf_counter() - started
    assert result == {"FINISHED"}
    curves = {head: [fc for action in head_actions("Long", objects) for fc in channelbag_fcurves(action)]
              for head, objects in heads.items()}
    keys = sum(len(fc.keyframe_points) for head in curves.values() for fc in head)
    figures = (f"{frames:,} frames, {long.stat().st_size / MB:.0f} MB take, 2 heads: bake {seconds:.1f} s, traced "
               f"peak {peak / MB:.1f} MB ({peak / frames:.0f} bytes a frame), {keys:,} keys on "
               f"{sum(map(len, curves.values()))} curves")
    print("\n" + figures)
    for head, fcurves in curves.items():  # every scene frame of the take, from the start frame on
        assert len(fcurves) > 60, (head, figures)
        check_one_key_per_frame(fcurves, frames, start, head)
    # The bake holds the mapped take of one head at a time (a float64 for each of its 66 targets a
    # frame, 0.5 KB), not of both, and a piece or two of the take (25 MB each with two faces):
    # 1.2 KB a frame at 100,080 frames. Holding every head's values until the end was 1.8 KB.
    assert peak < frames * 1500, f"{figures}: {peak / frames:.0f} bytes a frame"

    # Each head is still on its own person in the last repeat, before and after they change places.
    jaw = jaw_by_person(clip)
    baked = {head: action_keys(head_actions("Long", objects)) for head, objects in heads.items()}
    last_repeat = {head: next(k for (_, path, _), k in keys_.items() if path == JAW_PATH)[-clip.frame_count:, 1]
                   for head, keys_ in baked.items()}
    check_each_head_follows_its_person(last_repeat, jaw, performer_of(clip, jaw), "last of the 100k take's repeats")

    # Both ends of each head are the clip's own bake: the repeats are the same frames, continued in
    # whole 40 ms steps (no rounding), and smoothing reaches a few frames, not the clip's 240.
    item = takes_io.list_take(scene, short, "Clip")
    settings.active_take = list(settings.takes).index(item)
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    for head, objects in heads.items():
        own = action_keys(head_actions("Clip", objects))
        assert len(own) == len(curves[head])
        check_same_ends(own, baked[head], edge=100, what=head)
        moving = [curve for curve, k in own.items() if np.ptp(k[:, 1]) > 0.1]
        assert len(moving) > 5, head  # a real performance, not a still face
