"""The canonical face read from the real face_landmarker.task."""

import struct
import zipfile

import numpy as np
import pytest

from face_mocap.mapping.canonical import METADATA_NAME, load_canonical_face, parse_metadata
from face_mocap.mapping.errors import CanonicalFaceError


def test_mesh_and_basis_match_mediapipe(canonical):
    assert canonical.vertices.shape == (468, 3)
    assert canonical.uvs.shape == (468, 2)
    assert canonical.triangles.shape == (898, 3)
    assert canonical.triangles.min() == 0 and canonical.triangles.max() == 467
    # Landmarks the reference measured: nose tip, forehead, chin, eye corners (cm)
    np.testing.assert_allclose(canonical.vertices[4], [0, -0.463, 7.587], atol=1e-3)
    np.testing.assert_allclose(canonical.vertices[152], [0, -9.403, 4.264], atol=1e-3)
    assert canonical.vertices[263, 0] == pytest.approx(4.446, abs=1e-3)
    assert canonical.vertices[33, 0] == pytest.approx(-4.446, abs=1e-3)
    assert np.all((canonical.uvs >= 0) & (canonical.uvs <= 1))
    assert len(canonical.procrustes_ids) == 33
    assert canonical.procrustes_weights.sum() == pytest.approx(1.055, abs=1e-3)
    weights = dict(zip(canonical.procrustes_ids.tolist(), canonical.procrustes_weights.tolist()))
    assert weights[129] == pytest.approx(0.12063, abs=1e-5) == weights[358]
    assert canonical.weights_per_vertex()[4] == pytest.approx(0.0709, abs=1e-4)


def test_every_triangle_faces_outward(canonical):
    # A usable demo mesh: triangles are consistently wound (normals point out of the face).
    v = canonical.vertices[canonical.triangles]
    normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    front = v.mean(axis=1)[:, 2] > 3.0  # the front of the face
    assert np.mean(normals[front, 2] > 0) > 0.95


def test_canonical_face_is_read_only(canonical):
    with pytest.raises(ValueError):
        canonical.vertices[0, 0] = 1.0


def _task_with(tmp_path, name, payload):
    path = tmp_path / "broken.task"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr(name, payload)
    return path


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CanonicalFaceError, match="not found"):
        load_canonical_face(tmp_path / "nope.task")


def test_not_a_zip_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.task"
    path.write_bytes(b"definitely not a zip")
    with pytest.raises(CanonicalFaceError, match="not a zip"):
        load_canonical_face(path)


def test_bundle_without_geometry_is_a_clear_error(tmp_path):
    with pytest.raises(CanonicalFaceError, match=METADATA_NAME):
        load_canonical_face(_task_with(tmp_path, "face_detector.tflite", b"x"))


@pytest.mark.parametrize("keep", [7, 0.5, -3])
def test_truncated_geometry_is_a_clear_error(tmp_path, model_path, keep):
    with zipfile.ZipFile(model_path) as bundle:
        data = bundle.read(METADATA_NAME)
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    with pytest.raises(CanonicalFaceError):
        load_canonical_face(_task_with(tmp_path, METADATA_NAME, data[:cut]))


def test_packed_fields_decode_the_same(canonical):
    # Writers may pack repeated fields; the reader must accept both encodings.
    def varint(n):
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)

    def field(num, wire, payload):
        return varint(num << 3 | wire) + (varint(len(payload)) + payload if wire == 2 else payload)

    vb = np.concatenate([canonical.vertices, canonical.uvs], axis=1).astype("<f4").tobytes()
    ib = b"".join(varint(int(i)) for i in canonical.triangles.ravel())
    mesh = field(3, 2, vb) + field(4, 2, ib)
    refs = b"".join(field(2, 2, field(1, 0, varint(int(i))) + field(2, 5, struct.pack("<f", w)))
                    for i, w in zip(canonical.procrustes_ids, canonical.procrustes_weights))
    face = parse_metadata(field(1, 2, mesh) + refs)
    np.testing.assert_allclose(face.vertices, canonical.vertices, atol=1e-6)
    np.testing.assert_array_equal(face.triangles, canonical.triangles)
    np.testing.assert_allclose(face.procrustes_weights, canonical.procrustes_weights, atol=1e-7)
