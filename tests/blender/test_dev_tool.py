"""tools/dev.py finds the Python a Blender tier needs (bpy 5.2.3 exists for Python 3.13 only), or says what to install."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from extension_tools import REPO


@pytest.fixture(scope="module")
def dev():
    spec = importlib.util.spec_from_file_location("face_mocap_test_dev", REPO / "tools" / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_missing_python_is_named_with_what_to_install(dev, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3.99, no pyenv command
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    with pytest.raises(dev.SetupError) as error:
        dev.find_python("3.99")
    message = str(error.value)
    assert "Python 3.99 is needed" in message and "pyenv install 3.99" in message
    assert "FACE_MOCAP_PYTHON399" in message and "venv" in message


def test_the_variable_names_the_python_and_is_checked(dev, monkeypatch, tmp_path):
    version = "%d.%d" % sys.version_info[:2]
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv(f"FACE_MOCAP_PYTHON{version.replace('.', '')}", sys.executable)
    assert dev.find_python(version) == Path(sys.executable)


def test_pyenv_versions_are_found_newest_first(dev, monkeypatch, tmp_path):
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    for patch in ("3.13.0", "3.13.10", "3.13.2", "3.12.1"):
        binary = tmp_path / "versions" / patch / "bin" / ("python" + patch.rpartition(".")[0])
        binary.parent.mkdir(parents=True)
        binary.touch()
    assert [p.parents[1].name for p in dev.pyenv_pythons("3.13")] == ["3.13.10", "3.13.2", "3.13.0"]


def test_the_blender_5_2_tier_runs_the_blender_tests_on_python_3_13(dev):
    assert dev.PLAN["blender-5.2"] == ("blender-5.2", ["tests/blender"])
    assert dev.PYTHON_OF_ENV["blender-5.2"] == "3.13"
    assert "bpy==5.2.3" in dev.ENVIRONMENTS["blender-5.2"].read_text().split()
