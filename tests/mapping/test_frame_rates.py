"""One key per source frame at the NTSC rates, with fps_base stored as float32 the way Blender keeps it."""

from __future__ import annotations

import numpy as np
import pytest

from face_mocap.mapping import keyframes

NTSC = [(24, 23.976), (30, 29.97), (60, 59.94)]  # Blender preset fps (fps_base 1.001) and its label


def video_times_s(frames: int, fps: int) -> np.ndarray:
    """A clip's timestamps as the capture process stores them: whole microseconds at fps/1.001."""
    return np.round(np.arange(frames) * 1001e6 / (fps * 1000)) / 1e6


def blender_fps(fps: int, fps_base: float = 1.001) -> float:
    """scene.render.fps / scene.render.fps_base as Blender returns them (fps_base is a float32)."""
    return fps / float(np.float32(fps_base))


@pytest.mark.parametrize("fps, label", NTSC)
@pytest.mark.parametrize("frames", [2, 472, 9_000, 216_000])
def test_every_frame_of_an_ntsc_clip_gets_its_key(fps, label, frames):
    times = video_times_s(frames, fps)
    assert keyframes.frame_count(times[-1], blender_fps(fps)) == frames
    assert keyframes.Resampler(times, blender_fps(fps)).frame_count == frames
    assert keyframes.frame_count(times[-1], fps / 1.001) == frames  # exact rates too
    assert abs(blender_fps(fps) - label) < 5e-3


def test_the_472_frame_clip_at_23_976_is_off_by_more_than_the_old_tolerance():
    """What went wrong: float32 fps_base leaves the last frame 2e-5 frames short of a whole frame."""
    times = video_times_s(472, 24)
    short = 471 - times[-1] * blender_fps(24)
    assert 1e-6 < short < 1e-4


@pytest.mark.parametrize("fps, label", NTSC)
def test_a_take_a_little_short_of_a_frame_still_ends_on_the_last_whole_frame(fps, label):
    period = 1.0 / blender_fps(fps)
    assert keyframes.frame_count(99.5 * period, blender_fps(fps)) == 100
    assert keyframes.frame_count(99.99 * period, blender_fps(fps)) == 100
    assert keyframes.frame_count(0.0, blender_fps(fps)) == 1
