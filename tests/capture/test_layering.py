"""capture/, link/ and mapping/ never import bpy or mathutils (they run outside Blender or must stay pure)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

LAYERS = ("capture", "link", "mapping")
FORBIDDEN = ("bpy", "mathutils")
IMPORT_LINE = re.compile(r"^\s*(?:import|from)\s+(?:bpy|mathutils)\b|import_module\(\s*['\"](?:bpy|mathutils)\b",
                         re.MULTILINE)

# Imports every module of the layers with bpy/mathutils made unimportable.
IMPORT_ALL = r"""
import importlib, importlib.abc, importlib.util, pathlib, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {forbidden!r}:
            raise ImportError(f"{{name}} is blocked: this layer must not import it")
        return None

sys.meta_path.insert(0, Block())
repo = pathlib.Path({repo!r})
spec = importlib.util.spec_from_file_location("face_mocap", repo / "__init__.py",
                                              submodule_search_locations=[str(repo)])
package = importlib.util.module_from_spec(spec)
sys.modules["face_mocap"] = package
spec.loader.exec_module(package)
for layer in {layers!r}:
    for path in sorted((repo / layer).rglob("*.py")):
        parts = path.relative_to(repo).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        name = ".".join(("face_mocap",) + (parts[:-1] if parts[-1] == "__init__" else parts))
        importlib.import_module(name)
        print(name)
"""


def layer_files(repo_root):
    return [path for layer in LAYERS for path in sorted((repo_root / layer).rglob("*.py"))]


def test_every_module_imports_with_bpy_blocked(repo_root):
    script = IMPORT_ALL.format(forbidden=FORBIDDEN, repo=str(repo_root), layers=LAYERS)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    imported = result.stdout.split()
    assert {"face_mocap.capture.protocol", "face_mocap.link.session", "face_mocap.mapping"} <= set(imported)


def test_no_source_line_imports_bpy(repo_root):
    offenders = [f"{path.relative_to(repo_root)}: {match.group(0).strip()}"
                 for path in layer_files(repo_root) for match in IMPORT_LINE.finditer(path.read_text())]
    assert offenders == []


@pytest.mark.parametrize("line", ["import bpy", "    from mathutils import Vector", "import bpy.types",
                                  "importlib.import_module('bpy')"])
def test_the_scan_catches_bpy_imports(line):
    assert IMPORT_LINE.search(f"x = 1\n{line}\n")
