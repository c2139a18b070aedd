"""Helpers for the extension tests: Blender's own extension tool, its tag list, and the built zips."""

from __future__ import annotations

import importlib.util
import platform
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import bpy

from face_mocap.capture.model import MODEL_SHA256  # noqa: F401 (the pinned model, for the zip tests)
from face_mocap.link.bundled_layout import blender_platform

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(bpy.utils.system_resource("SCRIPTS"))


def blender_ext() -> ModuleType:
    """Blender's extension command-line tool (`blender --command extension ...`) as a module."""
    path = SCRIPTS / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    spec = importlib.util.spec_from_file_location("face_mocap_test_blender_ext", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def valid_add_on_tags() -> set[str]:
    """The tags Blender accepts for add-ons (the list its own build command checks against)."""
    namespace: dict = {}
    exec((SCRIPTS / "modules" / "_bpy_internal" / "extensions" / "tags.py").read_text(), namespace)
    return set(namespace["addons"])


def read_manifest() -> dict:
    with open(REPO / "blender_manifest.toml", "rb") as fh:
        return tomllib.load(fh)


def this_platform() -> str:
    """Blender's name for this platform (linux-x64, macos-arm64, windows-x64, ...)."""
    return blender_platform(platform.system(), platform.machine())


def build_tools() -> ModuleType:
    """tools/build_extension.py as a module (its wheel-tag rules and hash list)."""
    spec = importlib.util.spec_from_file_location("face_mocap_test_build_extension",
                                                  REPO / "tools" / "build_extension.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_zips(out_dir: Path) -> dict[str, Path]:
    """Run the README's build command into out_dir; return {platform: zip} for every manifest platform."""
    result = subprocess.run([sys.executable, str(REPO / "tools" / "build_extension.py"), "--out", str(out_dir)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, f"build failed:\n{result.stdout}\n{result.stderr}"
    manifest = read_manifest()
    zips = {}
    for name in manifest["platforms"]:
        path = out_dir / f"{manifest['id']}-{manifest['version']}-{name.replace('-', '_')}.zip"
        assert path.is_file(), f"no zip for {name} in {sorted(p.name for p in out_dir.iterdir())}"
        zips[name] = path
    return zips
