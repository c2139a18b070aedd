"""VIDEO-mode FaceLandmarker results read into arrays straight from MediaPipe's C result.

MediaPipe's Python API turns every result into 478 NormalizedLandmark and 52 Category
objects, which the capture process then turns back into arrays: 1.2-1.7 ms of CPU a frame
here, a tenth of a tracked frame. mediapipe 1.x calls its C API through ctypes, and declares
the C result's layout as ctypes structures. When the installed version has that layer, this
module makes the same call and copies the landmark and score columns out with numpy. The values
are bit-identical to the public call's (tests). Any other layout, or a MediaPipe without
that layer, gets None from `DirectVideoDetect.for_task`, and the caller uses the public call.
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np

from .protocol import MAX_FACES, Face


def _pointed_type(structure: type, field: str) -> type | None:
    """The structure that a POINTER field of `structure` points to (None: no such field)."""
    for name, kind, *_ in getattr(structure, "_fields_", ()):
        if name == field:
            return getattr(kind, "_type_", None)
    return None


def _float_offset(structure: type, field: str) -> int | None:
    """The byte offset of a C float field, when the structure's floats can be read as a float32 column."""
    declared = dict((name, kind) for name, kind, *_ in getattr(structure, "_fields_", ()))
    if declared.get(field) is not ctypes.c_float or ctypes.sizeof(structure) % 4:
        return None
    offset = getattr(structure, field).offset
    return offset if offset % 4 == 0 else None


def _float_rows(pointer, count: int, row_bytes: int) -> np.ndarray:
    """`count` C structures of `row_bytes` each, seen as rows of float32 (no copy yet)."""
    if count == 0:
        return np.empty((0, row_bytes // 4), dtype=np.float32)
    raw = (ctypes.c_char * (count * row_bytes)).from_address(ctypes.addressof(pointer.contents))
    return np.frombuffer(raw, dtype=np.float32).reshape(count, row_bytes // 4)


class DirectVideoDetect:
    """`detect_for_video` of one FaceLandmarker, giving Faces instead of Python objects."""

    def __init__(self, task, result_type: type, landmark_type: type, category_type: type) -> None:
        self._call = task._lib.MpFaceLandmarkerDetectForVideo
        self._close = task._lib.MpFaceLandmarkerCloseResult
        self._handle = task._handle
        self._result_type = result_type
        self._landmark_bytes = ctypes.sizeof(landmark_type)
        self._score_column = _float_offset(category_type, "score") // 4
        self._category_bytes = ctypes.sizeof(category_type)

    @classmethod
    def for_task(cls, task) -> DirectVideoDetect | None:
        """The direct reader for `task` when its MediaPipe has the C layer this reads, else None."""
        result_type = getattr(sys.modules.get(type(task).__module__), "MpFaceLandmarkerResultC", None)
        lib = getattr(task, "_lib", None)
        if result_type is None or not hasattr(task, "_handle") or not all(
                hasattr(lib, name) for name in ("MpFaceLandmarkerDetectForVideo", "MpFaceLandmarkerCloseResult")):
            return None
        landmark_type = _pointed_type(_pointed_type(result_type, "face_landmarks"), "landmarks")
        category_type = _pointed_type(_pointed_type(result_type, "face_blendshapes"), "categories")
        if landmark_type is None or category_type is None:
            return None
        xyz = [_float_offset(landmark_type, axis) for axis in "xyz"]
        if xyz != [0, 4, 8] or _float_offset(category_type, "score") is None:
            return None
        return cls(task, result_type, landmark_type, category_type)

    def __call__(self, image, timestamp_ms: int) -> list[Face]:
        """The faces MediaPipe finds in `image` (a mediapipe Image), at most MAX_FACES."""
        result = self._result_type()
        self._call(self._handle, image._image_ptr, None, timestamp_ms, ctypes.byref(result))
        try:
            return [self._face(result, i) for i in range(min(result.face_landmarks_count, MAX_FACES))]
        finally:
            self._close(ctypes.byref(result))

    def _face(self, result, i: int) -> Face:
        landmarks, scores = result.face_landmarks[i], result.face_blendshapes[i]
        points = _float_rows(landmarks.landmarks, landmarks.landmarks_count, self._landmark_bytes)[:, :3]
        categories = _float_rows(scores.categories, scores.categories_count, self._category_bytes)
        matrix = result.facial_transformation_matrixes[i].to_numpy()
        return Face(landmarks=points.copy(), blendshapes=categories[:, self._score_column].copy(),
                    transform=np.asarray(matrix, dtype=np.float32).reshape(4, 4))
