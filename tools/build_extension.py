#!/usr/bin/env python3
"""Build the Blender extension zips (one per platform) and a static extension repository index.

    ~/.cache/face_mocap/venvs/blender/bin/python tools/build_extension.py [--out dist]

Run it with a Blender environment's Python (bpy from PyPI): the zips are made by Blender's
own extension builder (`blender --command extension build --split-platforms`, found
through bpy), so the manifest is validated and `[build] paths_exclude_pattern` applied
exactly as Blender does, and `extension server-generate` writes index.json + index.html
beside them (a studio hosts that folder as a repository). The wheels are the files named
in blender_manifest.toml, downloaded unmodified from PyPI with pip into
~/.cache/face_mocap/wheels (reused by later builds, tests and CI) and checked against
tools/wheel_hashes.txt. A new platform only needs its name and its wheel files listed in
the manifest and their hashes in that file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "face_mocap"
WHEEL_CACHE = CACHE / "wheels"
MANIFEST = "blender_manifest.toml"
WHEEL_HASHES = REPO / "tools" / "wheel_hashes.txt"
DOWNLOADS_AT_ONCE = 6  # each pip run mostly waits on the index: overlap them
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
    return {"name": parts[0], "version": parts[1], "python": parts[-3], "abi": parts[-2], "platform": parts[-1]}


def _python_version(python_tag: str) -> str:
    """The interpreter version pip should resolve for: from a cpXY tag, else Blender's own."""
    for tag in python_tag.split("."):
        if tag.startswith("cp") and tag[2:].isdigit() and len(tag) >= 4:
            return f"{tag[2]}.{tag[3:]}"
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def read_wheel_hashes(path: Path = WHEEL_HASHES) -> dict[str, str]:
    """wheel file name -> pinned SHA-256, from a sha256sum-style file (# comments allowed)."""
    hashes = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            hashes[name] = digest
    return hashes


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(filename: str, sha256: str, cache: Path = WHEEL_CACHE) -> Path:
    """The wheel `filename` with the pinned hash: from the cache, else exactly that file from PyPI."""
    target = cache / filename
    if target.is_file() and sha256_of(target) == sha256:
        return target
    tags = parse_wheel_name(filename)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--only-binary=:all:", "--implementation", "cp",
               "--python-version", _python_version(tags["python"])]
    for abi in tags["abi"].split("."):
        command += ["--abi", abi]
    for platform_tag in tags["platform"].split("."):
        command += ["--platform", platform_tag]
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
        if (actual := sha256_of(got)) != sha256:
            raise BuildError(f"{filename} from PyPI has SHA-256 {actual}, not the pinned {sha256} "
                             f"({WHEEL_HASHES.name}): refusing it")
        os.replace(got, target)
    return target


def fetch_wheels(manifest: dict, hashes: dict[str, str] | None = None) -> list[Path]:
    """Every wheel the manifest lists, verified against its pinned hash (downloads overlap)."""
    hashes = read_wheel_hashes() if hashes is None else hashes
    names = [Path(rel).name for rel in manifest.get("wheels", [])]
    unpinned = [name for name in names if name not in hashes]
    if unpinned:
        raise BuildError(f"no pinned SHA-256 in {WHEEL_HASHES} for: {', '.join(unpinned)}")
    with ThreadPoolExecutor(DOWNLOADS_AT_ONCE) as pool:
        return list(pool.map(lambda name: fetch_wheel(name, hashes[name]), names))


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
    """`blender --command extension build` on the staging folder, then validate; return the zips made."""
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


def write_repository_index(out_dir: Path) -> list[Path]:
    """`blender --command extension server-generate` over out_dir: index.json (and index.html)
    listing every zip there, so the folder can be served as a static extension repository."""
    tool, _tags = blender_extension_tool()
    command = [sys.executable, str(tool), "server-generate", "--repo-dir", str(out_dir), "--html"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"Blender's server-generate failed:\n{result.stdout}{result.stderr}")
    return [p for p in (out_dir / "index.json", out_dir / "index.html") if p.is_file()]


# The face landmarker imported as the capture process imports it (capture/mediapipe_face.py).
_VERIFY_SCRIPT = """
import sys, cv2, numpy
from capture.mediapipe_face import face_landmarker_api, mediapipe_version
vision = face_landmarker_api()
ok, frame = cv2.VideoCapture(sys.argv[2]).read()
assert ok, "cannot read " + sys.argv[2]
options = vision.FaceLandmarkerOptions(base_options=vision.BaseOptions(model_asset_path=sys.argv[1]),
                                       output_face_blendshapes=True, output_facial_transformation_matrixes=True)
with vision.FaceLandmarker.create_from_options(options) as landmarker:
    image = vision.Image(image_format=vision.ImageFormat.SRGB, data=cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    result = landmarker.detect(image)
assert result.face_landmarks and len(result.face_blendshapes[0]) == 52, "no face found"
print(f"numpy {numpy.__version__}, mediapipe {mediapipe_version()}, opencv {cv2.__version__}: "
      f"{len(result.face_landmarks)} face(s), {len(result.face_landmarks[0])} landmarks, 52 blendshapes")
"""


def wheel_runs_on(filename: str, target: str, python: tuple[int, int]) -> bool:
    """Whether Blender on `target` (linux-x64, windows-x64, macos-arm64...) with this Python
    installs the wheel: its platform tag maps to `target` (or is "any") and a python tag is
    py3, the same cpXY, or an older cpXY with the stable ABI (abi3), as Blender's installer rules."""
    tags = parse_wheel_name(filename)
    wheel_platforms = {name for tag in tags["platform"].split(".") for name in blender_platforms(tag)}
    if not ({target, "any"} & wheel_platforms):
        return False
    for tag in tags["python"].split("."):
        digits = tag[2:]
        if tag[:2] not in ("py", "cp") or not digits.isdigit():
            continue
        wanted = (int(digits[0]), int(digits[1:])) if len(digits) > 1 else (int(digits),)
        if wanted == python[:len(wanted)] or ("abi3" in tags["abi"] and wanted[0] == python[0] and wanted <= python):
            return True
    return False


def blender_platforms(wheel_platform: str) -> set[str]:
    """Blender's platform names for one wheel platform tag (manylinux_2_28_x86_64 -> linux-x64;
    macosx_10_9_universal2 -> both Macs), as Blender's blender_platforms_from_wheel_platform."""
    if wheel_platform == "any":
        return {"any"}
    system = ("linux" if "linux" in wheel_platform else "windows" if wheel_platform.startswith("win")
              else "macos" if wheel_platform.startswith("macosx") else wheel_platform)
    if wheel_platform.endswith("universal2"):
        return {f"{system}-x64", f"{system}-arm64"}
    machine = ("x64" if wheel_platform.endswith(("x86_64", "amd64")) else
               "arm64" if wheel_platform.endswith(("arm64", "aarch64")) else wheel_platform.rpartition("_")[2])
    return {f"{system}-{machine}"}


def wheels_for_this_python(manifest: dict) -> list[Path]:
    """The (fetched) wheels Blender would install on this machine with this Python."""
    here = {"linux": "linux", "darwin": "macos", "win32": "windows"}[sys.platform]
    machine = "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x64"
    return [w for w in fetch_wheels(manifest) if wheel_runs_on(w.name, f"{here}-{machine}", sys.version_info[:2])]


NUMPY_OF_PYTHON = {(3, 11): "numpy==1.26.4", (3, 13): "numpy==2.3.5"}  # what Blender ships with each


def verify_wheels(wheels: list[Path], model: Path, media: Path,
                  numpy_pin: str = NUMPY_OF_PYTHON.get(sys.version_info[:2], "numpy")) -> str:
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
            result = subprocess.run(command, capture_output=True, text=True, cwd=tmp,
                                    env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONNOUSERSITE": "1"})
            if result.returncode != 0:
                raise BuildError(f"wheel check failed at {command[2:4]}:\n{result.stdout}{result.stderr[-2000:]}")
        return result.stdout.strip()


def build(out_dir: Path, model: Path | None = None, source: Path = REPO) -> list[Path]:
    """Build one zip per platform into out_dir plus the repository index; return the zips."""
    manifest = read_manifest(source)
    wheels = fetch_wheels(manifest)
    model_path = provision_model(model)
    with tempfile.TemporaryDirectory(prefix="face_mocap_stage_") as tmp:
        # a private staging folder: tests and a developer may build at the same time
        stage_dir = Path(tmp) / manifest["id"]
        stage(source, stage_dir, wheels, model_path)
        log(f"staged {stage_dir} ({len(wheels)} wheels, model {model_path})")
        zips = run_blender_build(stage_dir, out_dir, split_platforms=bool(manifest.get("platforms")))
    write_repository_index(out_dir)
    return zips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument("--model", type=Path, help="a face_landmarker.task to bundle (default: the user cache)")
    parser.add_argument("--verify", type=Path, metavar="VIDEO_OR_IMAGE",
                        help="first check this platform's wheels for this Python: a scratch venv with Blender's "
                             "numpy + exactly those wheels (--no-deps) runs FaceLandmarker on this file's first frame")
    args = parser.parse_args(argv)
    try:
        if args.verify is not None:
            log(verify_wheels(wheels_for_this_python(read_manifest()), provision_model(args.model),
                              args.verify.resolve()))
        zips = build(args.out.resolve(), args.model)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for zip_path in zips:
        log(f"built {zip_path} ({zip_path.stat().st_size / 1e6:.1f} MB)")
    log(f"repository index: {args.out.resolve() / 'index.json'} (host the folder, add its URL in Blender)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
