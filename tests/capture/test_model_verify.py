"""The model check: hashed once per process, but a file changed since is checked again."""

from __future__ import annotations

import os
import shutil

import pytest

from face_mocap.capture import model
from face_mocap.capture.errors import ModelError


def test_a_model_damaged_after_it_was_verified_is_refused(model_path, tmp_path):
    copy = tmp_path / "face_landmarker.task"
    shutil.copyfile(model_path, copy)
    assert model.verify(copy) == copy
    assert model.verify(copy) == copy  # unchanged: not hashed again
    data = bytearray(copy.read_bytes())
    data[1000] ^= 0xFF  # same size, one byte flipped
    copy.write_bytes(bytes(data))
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a write on a coarse clock
    with pytest.raises(ModelError, match="SHA-256"):
        model.verify(copy)
