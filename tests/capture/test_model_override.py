"""A model override that is not a file says what it is, and a FIFO never blocks the lookup."""

from __future__ import annotations

import os

import pytest
from fifo_guard import call_beside_fifo

from face_mocap.capture import model
from face_mocap.capture.errors import ModelError


def test_override_that_is_a_directory(tmp_path):
    folder = tmp_path / "face_landmarker.task"
    folder.mkdir()
    with pytest.raises(ModelError, match="is a directory") as info:
        model.find_model(folder)
    assert "does not exist" not in str(info.value)
    with pytest.raises(ModelError, match="is a directory"):
        model.verify(folder)


def test_override_through_the_environment_that_is_a_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(model.ENV_MODEL, str(tmp_path))
    with pytest.raises(ModelError, match=f"'{tmp_path}' is a directory"):
        model.find_model()


def test_override_that_is_a_fifo_is_not_opened(tmp_path):
    fifo = tmp_path / "face_landmarker.task"
    os.mkfifo(fifo)
    found = call_beside_fifo(fifo, lambda: model.find_model(fifo))
    assert isinstance(found, ModelError) and "is not a regular file" in str(found), found
    checked = call_beside_fifo(fifo, lambda: model.verify(fifo))
    assert isinstance(checked, ModelError) and "is not a regular file" in str(checked), checked


def test_override_that_does_not_exist(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        model.find_model(tmp_path / "missing.task")
    assert model.path_problem(tmp_path / "missing.task") == "does not exist"
