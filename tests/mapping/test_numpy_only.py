"""mapping/ runs inside Blender, whose Python has numpy but no scipy: it must not need scipy."""

import subprocess
import sys

SCRIPT = r"""
import importlib, importlib.abc, importlib.util, pathlib, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("scipy", "bpy", "mathutils"):
            raise ImportError(f"{name} is blocked")
        return None

sys.meta_path.insert(0, Block())
repo = pathlib.Path(sys.argv[1])
spec = importlib.util.spec_from_file_location("face_mocap", repo / "__init__.py",
                                              submodule_search_locations=[str(repo)])
package = importlib.util.module_from_spec(spec)
sys.modules["face_mocap"] = package
spec.loader.exec_module(package)
for path in sorted((repo / "mapping").glob("*.py")):
    importlib.import_module("face_mocap.mapping" + ("" if path.stem == "__init__" else "." + path.stem))
import numpy as np
from face_mocap.mapping import smoothing
t = np.arange(100) / 30.0
v = np.random.default_rng(0).normal(size=(100, 63))
assert np.isfinite(smoothing.zero_phase(t, v, "medium")).all()
assert np.isfinite(smoothing.smooth_live(t, v, "medium")).all()
print("ok")
"""


def test_mapping_works_without_scipy(repo_root):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(repo_root)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
