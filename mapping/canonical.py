"""The canonical face (mesh + Procrustes weights) read straight from face_landmarker.task.

The .task file is a zip; `geometry_pipeline_metadata_landmarks.binarypb` in it is a
GeometryPipelineMetadata protobuf (reference §A.2): field 1 canonical_mesh (Mesh3d:
3 vertex_buffer floats x,y,z,u,v; 4 index_buffer uint32), field 2 repeated
WeightedLandmarkRef (1 landmark_id, 2 weight). A tiny wire-format reader is enough.
"""

from __future__ import annotations

import functools
import os
import struct
import zipfile
from dataclasses import dataclass

import numpy as np

from .errors import CanonicalFaceError

METADATA_NAME = "geometry_pipeline_metadata_landmarks.binarypb"
N_VERTICES = 468
N_TRIANGLES = 898

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True)
class CanonicalFace:
    """MediaPipe's canonical face: +X subject's left, +Y up, +Z out of the face; cm."""

    vertices: np.ndarray  # (468, 3) float64, cm
    uvs: np.ndarray  # (468, 2) float64
    triangles: np.ndarray  # (898, 3) int32 vertex indices
    procrustes_ids: np.ndarray  # (33,) int32 landmark ids
    procrustes_weights: np.ndarray  # (33,) float64

    def weights_per_vertex(self) -> np.ndarray:
        """Procrustes weight of every vertex (468,), zero for vertices not in the basis."""
        w = np.zeros(len(self.vertices))
        w[self.procrustes_ids] = self.procrustes_weights
        return w


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise CanonicalFaceError("truncated or invalid varint in the face geometry data")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def iter_fields(buf: bytes):
    """Yield (field number, wire type, value) of a protobuf message; value is int or bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire == _FIXED32 or wire == _FIXED64:
            size = 4 if wire == _FIXED32 else 8
            value, pos = buf[pos:pos + size], pos + size
        elif wire == _BYTES:
            size, pos = _read_varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise CanonicalFaceError(f"unsupported protobuf wire type {wire} in field {field}")
        if pos > len(buf) or field == 0:
            raise CanonicalFaceError("truncated face geometry data")
        yield field, wire, value


def _floats(wire: int, value) -> list[float]:
    """A repeated float field: one fixed32 or a packed run."""
    if wire == _FIXED32:
        return [struct.unpack("<f", value)[0]]
    if wire == _BYTES and len(value) % 4 == 0:
        return list(struct.unpack(f"<{len(value) // 4}f", value))
    raise CanonicalFaceError("malformed float field in the face geometry data")


def _uints(wire: int, value) -> list[int]:
    """A repeated uint32 field: one varint or a packed run."""
    if wire == _VARINT:
        return [value]
    if wire == _BYTES:
        out, pos = [], 0
        while pos < len(value):
            v, pos = _read_varint(value, pos)
            out.append(v)
        return out
    raise CanonicalFaceError("malformed integer field in the face geometry data")


def parse_metadata(data: bytes) -> CanonicalFace:
    """Decode a GeometryPipelineMetadata protobuf into a CanonicalFace."""
    vertex_buffer: list[float] = []
    index_buffer: list[int] = []
    ids: list[int] = []
    weights: list[float] = []
    for field, wire, value in iter_fields(data):
        if field == 1 and wire == _BYTES:
            for f, w, v in iter_fields(value):
                if f == 3:
                    vertex_buffer += _floats(w, v)
                elif f == 4:
                    index_buffer += _uints(w, v)
        elif field == 2 and wire == _BYTES:
            ref = {f: (w, v) for f, w, v in iter_fields(value)}
            if 1 not in ref or 2 not in ref:
                raise CanonicalFaceError("a Procrustes landmark lacks its id or weight")
            ids += _uints(*ref[1])
            weights += _floats(*ref[2])
    return _build(vertex_buffer, index_buffer, ids, weights)


def _build(vertex_buffer, index_buffer, ids, weights) -> CanonicalFace:
    if len(vertex_buffer) != N_VERTICES * 5:
        raise CanonicalFaceError(
            f"canonical mesh has {len(vertex_buffer)} vertex floats, expected {N_VERTICES * 5}")
    if len(index_buffer) != N_TRIANGLES * 3:
        raise CanonicalFaceError(
            f"canonical mesh has {len(index_buffer)} indices, expected {N_TRIANGLES * 3}")
    if not ids:
        raise CanonicalFaceError("the face geometry data has no Procrustes landmarks")
    vb = np.array(vertex_buffer, np.float64).reshape(N_VERTICES, 5)
    tri = np.array(index_buffer, np.int64).reshape(N_TRIANGLES, 3)
    pid = np.array(ids, np.int64)
    pw = np.array(weights, np.float64)
    if tri.max() >= N_VERTICES or pid.max() >= N_VERTICES:
        raise CanonicalFaceError("the face geometry data refers to vertices that do not exist")
    if not np.all(np.isfinite(vb)) or np.any(pw < 0) or pw.sum() <= 1e-9:
        raise CanonicalFaceError("the face geometry data has invalid coordinates or weights")
    arrays = (vb[:, :3].copy(), vb[:, 3:].copy(), tri.astype(np.int32), pid.astype(np.int32), pw)
    for a in arrays:
        a.setflags(write=False)  # shared through the cache: nobody may edit it in place
    return CanonicalFace(*arrays)


def load_canonical_face(model_path: str | os.PathLike) -> CanonicalFace:
    """Read the canonical face from a face_landmarker.task file (cached per path)."""
    return _load_cached(os.fspath(os.path.abspath(model_path)))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> CanonicalFace:
    if not os.path.isfile(path):
        raise CanonicalFaceError(
            f"face model not found at {path}: set the model path in the add-on preferences")
    try:
        with zipfile.ZipFile(path) as bundle:
            data = bundle.read(METADATA_NAME)
    except KeyError:
        raise CanonicalFaceError(
            f"{path} has no {METADATA_NAME}: is it a MediaPipe face_landmarker.task?") from None
    except zipfile.BadZipFile:
        raise CanonicalFaceError(
            f"{path} is not a valid face_landmarker.task (not a zip): download it again") from None
    try:
        return parse_metadata(data)
    except CanonicalFaceError as exc:
        raise CanonicalFaceError(f"{path}: {exc}") from None
