#!/usr/bin/env python3
"""Build the Blender extension zip(s): the add-on, its capture wheels and the verified model.

    ~/.cache/face_mocap/venvs/blender/bin/python tools/build_extension.py [--out dist]

Run it with the Blender environment's Python (bpy from PyPI): the zip is made by Blender's
own extension builder (`blender --command extension build`, found through bpy), so the
manifest is validated and `[build] paths_exclude_pattern` applied exactly as Blender does.
The wheels are the files named in blender_manifest.toml, downloaded unmodified from PyPI
with pip into ~/.cache/face_mocap/wheels (reused by later builds, tests and CI). One zip
per platform in the manifest: a new platform only needs its wheel files listed there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "face_mocap"
WHEEL_CACHE = CACHE / "wheels"
MANIFEST = "blender_manifest.toml"
BUNDLED_MODEL = Path("models") / "face_landmarker.task"
MODEL_NOTICE = """face_landmarker.task: MediaPipe Face Landmarker (float16, v1) by Google,
licensed under the Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0).
Shipped unmodified; Face Mocap checks its SHA-256 before use.
"""
# Never copied into the staging tree (the manifest's exclude patterns drop the rest).
STAGE_IGNORE = shutil.ignore_patterns(".git", "build", "dist", "out", "wheels", "models", "__pycache__",
                                      ".pytest_cache", "*.pyc", "*.zip")


class BuildError(Exception):
    """The extension could not be built; the message says what to fix."""


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def read_manifest(source: Path = REPO) -> dict:
    """The parsed blender_manifest.toml."""
    with open(source / MANIFEST, "rb") as fh:
        return tomllib.load(fh)


def parse_wheel_name(filename: str) -> dict[str, str]:
    """Split a wheel file name into its PEP 427 parts (name, version, python, abi, platform)."""
    stem = filename.removesuffix(".whl")
    parts = stem.split("-")
    if len(parts) not in (5, 6) or not filename.endswith(".whl"):
        raise BuildError(f"'{filename}' is not a wheel file name (name-version-python-abi-platform.whl)")
    name, version, python, abi, platform = parts[0], parts[1], parts[-3], parts[-2], parts[-1]
    return {"name": name, "version": version, "python": python, "abi": abi, "platform": platform}


def _python_version(python_tag: str) -> str:
    """The interpreter version pip should resolve for: from a cpXY tag, else Blender's own."""
    for tag in python_tag.split("."):
        if tag.startswith("cp") and tag[2:].isdigit() and len(tag) >= 4:
            return f"{tag[2]}.{tag[3:]}"
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _wheel_is_whole(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as wheel:
            return any(n.endswith(".dist-info/RECORD") for n in wheel.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def fetch_wheel(filename: str, cache: Path = WHEEL_CACHE) -> Path:
    """The wheel `filename` from the cache, downloading exactly that file from PyPI if needed."""
    target = cache / filename
    if target.is_file() and _wheel_is_whole(target):
        return target
    tags = parse_wheel_name(filename)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--only-binary=:all:", "--implementation", "cp",
               "--python-version", _python_version(tags["python"])]
    for abi in tags["abi"].split("."):
        command += ["--abi", abi]
    for platform in tags["platform"].split("."):
        command += ["--platform", platform]
    command.append(f"{tags['name']}=={tags['version']}")
    log(f"downloading {filename}")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        result = subprocess.run([*command, "-d", tmp], capture_output=True, text=True)
        got = Path(tmp) / filename
        if result.returncode != 0 or not got.is_file():
            found = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
            detail = (result.stderr.strip().splitlines() or [""])[-1]
            raise BuildError(f"pip could not download {filename} (got {found}) {detail}".strip())
        os.replace(got, target)
    return target


def provision_model(explicit: Path | None) -> Path:
    """The verified face_landmarker.task: the given file, or the user cache (fetched if missing)."""
    sys.path.insert(0, str(REPO))  # tools/ is not package code: import capture/ from the checkout
    try:
        from capture import model as capture_model
        from capture.errors import ModelError
    finally:
        sys.path.remove(str(REPO))
    try:
        if explicit is not None:
            return capture_model.verify(explicit)
        path, _where_from = capture_model.fetch()
        return path
    except ModelError as exc:
        raise BuildError(str(exc)) from None


def stage(source: Path, stage_dir: Path, wheels: list[Path], model: Path) -> None:
    """Copy the add-on sources, the wheels and the model into a clean staging folder."""
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    shutil.copytree(source, stage_dir, ignore=STAGE_IGNORE)
    (stage_dir / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, stage_dir / "wheels" / wheel.name)
    (stage_dir / BUNDLED_MODEL).parent.mkdir()
    shutil.copy2(model, stage_dir / BUNDLED_MODEL)
    (stage_dir / BUNDLED_MODEL).with_name("NOTICE.txt").write_text(MODEL_NOTICE)


def blender_extension_tool() -> tuple[Path, Path]:
    """Blender's extension command-line tool and its list of valid tags, found through bpy."""
    import bpy  # the builder ships with Blender; bpy from PyPI has the same scripts

    scripts = Path(bpy.utils.system_resource("SCRIPTS"))
    tool = scripts / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    tags = scripts / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    if not tool.is_file():
        raise BuildError(f"Blender's extension builder is missing at {tool}: is bpy >= 4.2 installed?")
    return tool, tags


def run_blender_build(stage_dir: Path, out_dir: Path, split_platforms: bool) -> list[Path]:
    """`blender --command extension build` on the staging folder; return the zips made."""
    tool, tags = blender_extension_tool()
    out_dir.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime_ns for p in out_dir.glob("*.zip")}
    command = [sys.executable, str(tool), "build", "--source-dir", str(stage_dir),
               "--output-dir", str(out_dir), "--valid-tags", str(tags)]
    if split_platforms:
        command.append("--split-platforms")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"Blender's extension build failed:\n{result.stdout}{result.stderr}")
    made = [p for p in out_dir.glob("*.zip") if before.get(p) != p.stat().st_mtime_ns]
    for zip_path in made:
        check = subprocess.run([sys.executable, str(tool), "validate", str(zip_path)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise BuildError(f"{zip_path.name} does not validate:\n{check.stdout}{check.stderr}")
    return sorted(made)


_VERIFY_SCRIPT = """
import sys, cv2, numpy, mediapipe
from mediapipe.tasks.python import vision
from mediapipe.tasks.python.core.base_options import BaseOptions
ok, frame = cv2.VideoCapture(sys.argv[2]).read()
assert ok, "cannot read " + sys.argv[2]
options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=sys.argv[1]),
                                       output_face_blendshapes=True, output_facial_transformation_matrixes=True)
with vision.FaceLandmarker.create_from_options(options) as landmarker:
    image = mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    result = landmarker.detect(image)
assert result.face_landmarks and len(result.face_blendshapes[0]) == 52, "no face found"
print(f"numpy {numpy.__version__}, mediapipe {mediapipe.__version__}, opencv {cv2.__version__}: "
      f"{len(result.face_landmarks)} face(s), {len(result.face_landmarks[0])} landmarks, 52 blendshapes")
"""


def verify_wheels(wheels: list[Path], model: Path, media: Path, numpy_pin: str = "numpy==1.26.4") -> str:
    """Install numpy (Blender's) + exactly these wheels (--no-deps) in a scratch venv and run FaceLandmarker."""
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        steps = [[sys.executable, "-m", "venv", str(venv)],
                 [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", numpy_pin],
                 [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                  *map(str, wheels)],
                 [str(python), "-c", _VERIFY_SCRIPT, str(model), str(media)]]
        for command in steps:
            result = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
            if result.returncode != 0:
                raise BuildError(f"wheel check failed at {command[2:4]}:\n{result.stdout}{result.stderr[-2000:]}")
        return result.stdout.strip()


def build(out_dir: Path, model: Path | None = None, source: Path = REPO) -> list[Path]:
    """Build the extension zip(s) into out_dir; return their paths."""
    manifest = read_manifest(source)
    wheels = [fetch_wheel(Path(rel).name) for rel in manifest.get("wheels", [])]
    model_path = provision_model(model)
    stage_dir = source / "build" / "extension" / manifest["id"]
    stage(source, stage_dir, wheels, model_path)
    log(f"staged {stage_dir} ({len(wheels)} wheels, model {model_path})")
    return run_blender_build(stage_dir, out_dir, split_platforms=bool(manifest.get("platforms")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument("--model", type=Path, help="a face_landmarker.task to bundle (default: the user cache)")
    parser.add_argument("--verify", type=Path, metavar="VIDEO_OR_IMAGE",
                        help="first check the wheels: a scratch venv with numpy 1.26.4 + exactly these wheels "
                             "(--no-deps) runs FaceLandmarker on the first frame of this file")
    args = parser.parse_args(argv)
    try:
        if args.verify is not None:
            wheels = [fetch_wheel(Path(rel).name) for rel in read_manifest().get("wheels", [])]
            log(verify_wheels(wheels, provision_model(args.model), args.verify.resolve()))
        zips = build(args.out.resolve(), args.model)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for zip_path in zips:
        log(f"built {zip_path} ({zip_path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
