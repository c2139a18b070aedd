"""Every platform's zip as built, checked the way Blender and pip read it (no Windows or Mac needed).

For each zip: Blender's validator accepts it; each wheel's tags, from its file name and from
its own WHEEL metadata, agree and fit the zip's platform; Blender on that platform with
Python 3.11 (4.2-5.0) and 3.13 (5.2) installs one wheel of every capture package (the Intel
Mac zip: none of mediapipe's, it is Custom Python only); no wheel is tied to one Python; the
wheels are the pinned bytes; the model is the pinned one; no development files are inside.
The repository index lists each zip for its platform and any Python 3.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from extension_tools import MODEL_SHA256, SCRIPTS, blender_ext, build_tools, read_manifest
from face_mocap.link.bundled_layout import BUNDLED_PLATFORMS

BLENDER_PYTHONS = {(3, 11): "Blender 4.2 LTS to 5.0", (3, 13): "Blender 5.2 LTS"}
# what `python -m capture` imports, directly or through the face landmarker's modules (besides numpy)
CAPTURE_PACKAGES = {"mediapipe", "opencv_python_headless", "absl_py", "flatbuffers", "certifi"}
DEV_FOLDERS = {"tests", "tools", "bench", "docs", ".ci", ".git", "build", "dist", "out"}
PLATFORMS = read_manifest()["platforms"]


@pytest.fixture(scope="module", params=PLATFORMS)
def built(request, extension_dist) -> tuple[str, Path, dict]:
    """(platform, zip, the manifest inside the zip as Blender reads it: with its [build.generated]
    platforms and wheels, which the split build writes for that one platform)."""
    path = extension_dist[1][request.param]
    with zipfile.ZipFile(path) as archive:
        manifest = tomllib.loads(archive.read("blender_manifest.toml").decode())
    blender_ext().pkg_manifest_dict_apply_build_generated_table(manifest)
    return request.param, path, manifest


def wheel_tags_in_metadata(archive: zipfile.ZipFile, wheel_name: str) -> set[str]:
    """The `Tag:` lines of a wheel's .dist-info/WHEEL file."""
    with zipfile.ZipFile(archive.open(wheel_name)) as wheel:
        (info,) = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/WHEEL")]
        lines = wheel.read(info).decode().splitlines()
    return {line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")}


def wheel_tags_in_name(wheel_name: str) -> set[str]:
    """The tags a wheel file name claims: the product of its dotted python, abi and platform parts."""
    parts = Path(wheel_name).name.removesuffix(".whl").split("-")
    return {"-".join(t) for t in itertools.product(*(part.split(".") for part in parts[-3:]))}


def test_blenders_validator_accepts_the_zip(built):
    _platform, path, _manifest = built
    tool = SCRIPTS / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    result = subprocess.run([sys.executable, str(tool), "validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_zips_manifest_claims_its_one_platform_and_lists_exactly_the_wheels_inside(built):
    platform, path, manifest = built
    assert manifest["platforms"] == [platform]
    with zipfile.ZipFile(path) as archive:
        inside = {n for n in archive.namelist() if n.startswith("wheels/")}
    assert {w.removeprefix("./") for w in manifest["wheels"]} == inside


def test_wheel_tags_in_names_and_metadata_agree_and_fit_the_platform(built):
    platform, path, manifest = built
    tool = blender_ext()
    with zipfile.ZipFile(path) as archive:
        for rel in manifest["wheels"]:
            name = rel.removeprefix("./")
            assert wheel_tags_in_metadata(archive, name) == wheel_tags_in_name(name), name
            for tag in wheel_tags_in_name(name):
                wheel_platform = tag.split("-")[2]
                assert wheel_platform == "any" or platform in tool.blender_platforms_from_wheel_platform(
                    wheel_platform), (name, tag)


def test_no_wheel_is_tied_to_one_python_so_blender_claims_any_python_3(built):
    """py3 and abi3 wheels only: the same zip installs on Python 3.11 (Blender 4.2-5.0) and 3.13 (5.2)."""
    _platform, _path, manifest = built
    assert blender_ext().python_versions_from_wheels(manifest["wheels"]) == {(3,)}


@pytest.mark.parametrize("python", BLENDER_PYTHONS, ids=lambda v: f"py{v[0]}{v[1]}")
def test_blender_installs_one_wheel_of_every_capture_package_on_each_python(built, python):
    platform, _path, manifest = built
    runs_on = build_tools().wheel_runs_on
    names = [Path(w).name for w in manifest["wheels"] if runs_on(Path(w).name, platform, python)]
    packages = sorted(n.split("-")[0].lower() for n in names)
    assert len(packages) == len(set(packages)), f"two wheels of one package for {python}: {names}"
    if platform not in BUNDLED_PLATFORMS:  # Intel Macs: the pure-Python wheels only, never mediapipe
        assert "mediapipe" not in packages and set(packages) < CAPTURE_PACKAGES, packages
        return
    assert set(packages) == CAPTURE_PACKAGES, (BLENDER_PYTHONS[python], set(packages) ^ CAPTURE_PACKAGES)
    assert not [n for n in names if n.lower().startswith("numpy-")], "numpy is Blender's own"


def test_wheels_are_the_pinned_bytes(built):
    _platform, path, manifest = built
    pinned = build_tools().read_wheel_hashes()
    with zipfile.ZipFile(path) as archive:
        for rel in manifest["wheels"]:
            name = rel.removeprefix("./")
            assert hashlib.sha256(archive.read(name)).hexdigest() == pinned[Path(name).name], name


def test_model_is_the_pinned_one(built):
    with zipfile.ZipFile(built[1]) as archive:
        assert hashlib.sha256(archive.read("models/face_landmarker.task")).hexdigest() == MODEL_SHA256
        assert "Apache" in archive.read("models/NOTICE.txt").decode()


def test_no_tests_tools_bench_or_docs_inside(built):
    with zipfile.ZipFile(built[1]) as archive:
        names = archive.namelist()
    assert "__init__.py" in names and "link/bundled_layout.py" in names
    assert not [n for n in names if n.split("/")[0] in DEV_FOLDERS]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".md"))]


def test_repository_index_lists_each_zip_for_its_platform_and_any_python_3(extension_dist):
    out, zips = extension_dist
    index = json.loads((out / "index.json").read_text())
    entries = {entry["archive_url"].removeprefix("./"): entry for entry in index["data"]}
    assert set(entries) == {path.name for path in zips.values()}
    for platform, path in zips.items():
        entry = entries[path.name]
        assert entry["platforms"] == [platform] and entry["python_versions"] == ["3"]
        assert entry["archive_size"] == path.stat().st_size
        assert entry["archive_hash"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert (out / "index.html").is_file()
