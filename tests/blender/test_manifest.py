"""blender_manifest.toml against Blender's extension rules, and its version against the code."""

from __future__ import annotations

import re
from pathlib import Path

import bpy
import pytest

from extension_tools import REPO, blender_ext, build_tools, read_manifest, valid_add_on_tags
import face_mocap
from face_mocap.link.bundled_layout import ADDON_ONLY_PLATFORMS

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
PACKAGE_DIRS = ("capture", "link", "mapping", "ui")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return read_manifest()


def terse_problem(text: str) -> str | None:
    """Blender's rule for a tagline or a permission reason, written out: short, no final punctuation."""
    if not text or text != text.strip():
        return "empty or padded with spaces"
    if len(text) > 64:
        return f"{len(text)} characters, at most 64"
    if not (text[-1].isalnum() or text[-1] in ")]}"):
        return f"ends with {text[-1]!r}"
    return None


def test_blenders_own_validator_accepts_the_manifest_strictly(manifest):
    errors = blender_ext().pkg_manifest_from_dict_and_validate_all_errros(manifest, from_repo=False, strict=True)
    assert not isinstance(errors, list), errors


def test_identity_fields(manifest):
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["id"] == "face_mocap"
    assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", manifest["id"])  # a Python identifier, no "__"
    assert manifest["name"] == "Face Mocap"
    assert manifest["type"] == "add-on"
    assert manifest["maintainer"].strip()
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]


def test_version_is_semver_and_matches_the_code(manifest):
    assert SEMVER.match(manifest["version"]), manifest["version"]
    assert manifest["version"] == face_mocap.__version__ == ".".join(map(str, face_mocap.VERSION))


def test_tagline_and_permission_reasons_are_short_without_final_punctuation(manifest):
    assert terse_problem(manifest["tagline"]) is None, terse_problem(manifest["tagline"])
    for name, reason in manifest["permissions"].items():
        assert isinstance(reason, str), f"permission {name} has no reason"
        assert terse_problem(reason) is None, f"permission {name}: {terse_problem(reason)}"


def test_permissions_are_camera_and_files_and_the_addon_never_downloads(manifest):
    assert set(manifest["permissions"]) == {"camera", "files"}
    # No "network": the zip ships the model, and no Blender-side code may fetch anything.
    downloads = re.compile(r"^\s*(import|from)\s+(urllib|requests|http\.client)\b|urlopen\(|\bfetch\(", re.M)
    for folder in ("link", "mapping", "ui"):
        for path in (REPO / folder).rglob("*.py"):
            found = downloads.search(path.read_text())
            assert found is None, f"{path.relative_to(REPO)} downloads ({found.group(0)!r}): add the network permission"


def test_tags_are_from_blenders_list(manifest):
    assert manifest["tags"]
    assert set(manifest["tags"]) <= valid_add_on_tags(), set(manifest["tags"]) - valid_add_on_tags()


def test_blender_version_min_is_4_2_and_this_blender_satisfies_it(manifest):
    assert manifest["blender_version_min"] == "4.2.0"
    assert bpy.app.version >= tuple(int(p) for p in manifest["blender_version_min"].split("."))


def test_every_bundled_platform_ships_mediapipe_intel_macs_none_and_no_numpy(manifest):
    tool = blender_ext()
    wheels = [Path(w).name for w in manifest["wheels"]]
    assert all(w.startswith("./wheels/") and w.endswith(".whl") for w in manifest["wheels"])
    assert not [w for w in wheels if w.lower().startswith("numpy-")], "numpy is Blender's own: never bundle it"
    for platform in manifest["platforms"]:
        ours = [w for w in wheels if tool.blender_platform_compatible_with_wheel_platform_from_filepath(platform, w)]
        names = {w.split("-")[0].lower() for w in ours}
        if platform in ADDON_ONLY_PLATFORMS:
            assert not names & {"mediapipe", "opencv_python_headless"}, (platform, names)
        else:
            assert {"mediapipe", "opencv_python_headless"} <= names, (platform, names)
    python_tags = {w.split("-")[-3] for w in wheels}
    # one zip for Python 3.11 (Blender 4.2-5.0) and 3.13 (5.2): only py3 wheels and opencv's stable-ABI one
    assert python_tags <= {"py3", "py2.py3", "cp37"}, python_tags
    assert {w.split("-")[-2] for w in wheels if w.split("-")[-3] == "cp37"} == {"abi3"}


def test_every_wheel_is_pinned_by_hash_and_every_pin_is_used(manifest):
    pinned = build_tools().read_wheel_hashes()
    listed = {Path(w).name for w in manifest["wheels"]}
    assert listed - set(pinned) == set(), "wheels without a SHA-256 in tools/wheel_hashes.txt"
    assert set(pinned) - listed == set(), "stale pins in tools/wheel_hashes.txt"
    assert all(len(digest) == 64 and int(digest, 16) >= 0 for digest in pinned.values())


def test_build_excludes_tests_and_dev_files_but_keeps_the_addon(manifest):
    match = blender_ext().PathPatternMatch(manifest["build"]["paths_exclude_pattern"])
    for excluded in ("tests/", "tools/", "bench/", ".ci/", ".git/", "docs/", "dist/", "README.md",
                     "ui/__pycache__/", "capture/PROTOCOL.md"):
        assert match.test_path(excluded), f"{excluded} would be in the zip"
    for kept in ("__init__.py", "blender_manifest.toml", "capture/", "capture/protocol.py", "mapping/presets/",
                 "mapping/presets/arkit.json", "ui/", "ui/demo_head.py", "link/", "link/session.py", "models/", "models/face_landmarker.task"):
        assert not match.test_path(kept), f"{kept} would be left out of the zip"


def test_the_build_reads_wheel_platform_tags_as_blender_does(manifest):
    """tools/build_extension.py decides which wheels a Blender installs; its tag reading is Blender's."""
    tools, tool = build_tools(), blender_ext()
    tags = {tag for w in manifest["wheels"] for tag in Path(w).stem.split("-")[-1].split(".")}
    for tag in tags | {"macosx_10_9_universal2", "manylinux2014_aarch64", "win_arm64", "any"}:
        assert tools.blender_platforms(tag) == set(tool.blender_platforms_from_wheel_platform(tag)), tag
