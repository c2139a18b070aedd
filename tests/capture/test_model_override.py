"""A model override that is not a file says what it is, and a FIFO never blocks the lookup."""

from __future__ import annotations

import os
import threading

import pytest

from face_mocap.capture import model
from face_mocap.capture.errors import ModelError


def _in_thread(fifo, call):
    """Run call() in a thread; if it blocks on the FIFO, open the other end so the test ends and fails."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)  # a safety net, not a timing: the lookup only calls stat()
    blocked = thread.is_alive()
    if blocked:
        with open(fifo, "wb"):
            pass
        thread.join()
    assert not blocked, "the model lookup opened the FIFO and waited for a writer"
    return outcome


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
    found = _in_thread(fifo, lambda: model.find_model(fifo))
    assert isinstance(found.get("error"), ModelError), found
    assert "is not a regular file" in str(found["error"]), str(found["error"])
    checked = _in_thread(fifo, lambda: model.verify(fifo))
    assert "is not a regular file" in str(checked.get("error")), checked


def test_override_that_does_not_exist(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        model.find_model(tmp_path / "missing.task")
    assert model.path_problem(tmp_path / "missing.task") == "does not exist"
