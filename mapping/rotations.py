"""All rotation arithmetic of the add-on, in plain numpy: quaternions, Euler angles in any
order, axis-angle, rotation vectors and matrices, with Blender's conventions.

- Quaternions are (w, x, y, z), like Blender's rotation_quaternion.
- An Euler order names the axes in the order they are applied: 'XYZ' is R = Rz @ Ry @ Rx,
  as Blender's rotation_euler with that order.
- Axis-angle is (angle, x, y, z), like Blender's rotation_axis_angle.
- A rotation vector is axis * angle (radians). Rotation vectors scale exactly
  (exp(f v) is the slerp from rest to exp(v) by f, and exp(a v) exp(b v) = exp((a+b) v)) and
  change frame linearly (B^T exp(v) B = exp(B^T v)): that is why a bone's rotation rows in a
  mapping table add up to a rotation vector.
Arrays are (N, ...) and results are float64; the scalar helpers at the end are for the
live smoother, which rotates three small rotations a frame where numpy's overhead dominates.
"""

from __future__ import annotations

import math

import numpy as np

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_EVEN = ("XYZ", "YZX", "ZXY")  # cyclic orders; the others flip the sign of the middle term


def _axes(order: str) -> tuple[int, int, int]:
    if order not in EULER_ORDERS:
        raise ValueError(f"unknown Euler order {order!r}")
    return tuple("XYZ".index(axis) for axis in order)


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (N,4) w,x,y,z arrays: the rotation b followed by a."""
    aw, ax, ay, az = np.asarray(a, np.float64).reshape(-1, 4).T
    bw, bx, by, bz = np.asarray(b, np.float64).reshape(-1, 4).T
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=1)


def euler_to_quaternion(euler: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(...,3) Euler angles (first axis of `order` applied first) -> (...,4) w,x,y,z."""
    shape = np.shape(euler)[:-1]
    euler = np.asarray(euler, np.float64).reshape(-1, 3)
    result = np.zeros((len(euler), 4))
    result[:, 0] = 1.0
    for axis in _axes(order):  # q = q_last * ... * q_first
        half = euler[:, axis] * 0.5
        elemental = np.zeros((len(euler), 4))
        elemental[:, 0] = np.cos(half)
        elemental[:, 1 + axis] = np.sin(half)
        result = quaternion_multiply(elemental, result)
    return result.reshape(shape + (4,))


def euler_to_matrix(euler: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(N,3) Euler angles -> (N,3,3) rotation matrices."""
    return quaternion_to_matrix(euler_to_quaternion(euler, order))


def matrix_to_euler(m: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(N,3,3) rotation matrices -> (N,3) Euler angles, middle angle in [-pi/2, pi/2]."""
    m = np.asarray(m, np.float64).reshape(-1, 3, 3)
    i, j, k = _axes(order)
    sign = 1.0 if order in _EVEN else -1.0
    out = np.empty((len(m), 3))
    out[:, j] = np.arcsin(np.clip(-sign * m[:, k, i], -1.0, 1.0))
    out[:, i] = np.arctan2(sign * m[:, k, j], m[:, k, k])
    out[:, k] = np.arctan2(sign * m[:, j, i], m[:, i, i])
    return out


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(N,4) quaternions (normalised here) -> (N,3,3) rotation matrices."""
    q = np.asarray(q, np.float64).reshape(-1, 4)
    w, x, y, z = (q / np.sqrt(np.einsum("ij,ij->i", q, q))[:, None]).T
    m = np.empty((len(q), 3, 3))  # filled in place: a live frame converts a few rotations at a time
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = 1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = 2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)
    m[:, 2, 0], m[:, 2, 1], m[:, 2, 2] = 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
    return m


def quaternion_to_euler(q: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(...,4) quaternions -> (...,3) Euler angles in `order`."""
    return matrix_to_euler(quaternion_to_matrix(q), order).reshape(np.shape(q)[:-1] + (3,))


def rotation_vector_to_quaternion(v: np.ndarray) -> np.ndarray:
    """(N,3) axis * angle -> (N,4) unit quaternions."""
    v = np.asarray(v, np.float64).reshape(-1, 3)
    angle = np.linalg.norm(v, axis=1)
    half = 0.5 * angle
    # sin(a/2)/a, with its limit 1/2 - a^2/48 near 0 (no division by a vanishing angle)
    scale = np.where(angle > 1e-8, np.sin(half) / np.where(angle > 1e-8, angle, 1.0), 0.5 - angle ** 2 / 48)
    return np.column_stack([np.cos(half), v * scale[:, None]])


def quaternion_to_rotation_vector(q: np.ndarray) -> np.ndarray:
    """(N,4) quaternions -> (N,3) axis * angle, angle in [0, pi]."""
    q = np.asarray(q, np.float64).reshape(-1, 4)
    q = q * np.where(q[:, :1] < 0.0, -1.0, 1.0)
    sin_half = np.linalg.norm(q[:, 1:], axis=1)
    angle = 2.0 * np.arctan2(sin_half, q[:, 0])
    scale = np.where(sin_half > 1e-12, angle / np.where(sin_half > 1e-12, sin_half, 1.0), 2.0)
    return q[:, 1:] * scale[:, None]


def euler_to_rotation_vector(euler: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(N,3) Euler angles -> (N,3) the same rotations as axis * angle."""
    return quaternion_to_rotation_vector(euler_to_quaternion(euler, order))


def quaternion_to_axis_angle(quats: np.ndarray) -> np.ndarray:
    """(N,4) w,x,y,z -> (N,4) angle,x,y,z as Blender's rotation_axis_angle (axis Y at zero angle)."""
    quats = np.asarray(quats, np.float64).reshape(-1, 4)
    quats = quats * np.where(quats[:, :1] < 0.0, -1.0, 1.0)
    sin_half = np.linalg.norm(quats[:, 1:], axis=1)
    angle = 2.0 * np.arctan2(sin_half, quats[:, 0])
    axis = np.zeros((len(quats), 3))
    axis[:, 1] = 1.0
    moving = sin_half > 1e-12
    axis[moving] = quats[moving, 1:] / sin_half[moving, None]
    return np.column_stack([angle, axis])


def axis_angle_to_quaternion(axis_angle: np.ndarray) -> np.ndarray:
    """(N,4) angle,x,y,z (axis of any length) -> (N,4) unit quaternions."""
    axis_angle = np.asarray(axis_angle, np.float64).reshape(-1, 4)
    axis = axis_angle[:, 1:]
    norm = np.linalg.norm(axis, axis=1, keepdims=True)
    axis = np.where(norm > 1e-12, axis / np.where(norm > 1e-12, norm, 1.0), 0.0)
    return rotation_vector_to_quaternion(axis * axis_angle[:, :1])


def continuous_quaternions(quats: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Flip signs so consecutive quaternions stay in one hemisphere (no 360-degree spins)."""
    quats = np.array(quats, np.float64).reshape(-1, 4)
    if len(quats) == 0:
        return quats
    if reference is not None and np.dot(quats[0], reference) < 0.0:
        quats[0] = -quats[0]
    flips = np.einsum("ij,ij->i", quats[1:], quats[:-1]) < 0.0
    signs = np.cumprod(np.where(flips, -1.0, 1.0))
    quats[1:] *= signs[:, None]
    return quats


def _euler_pair(quats: np.ndarray, order: str) -> tuple[np.ndarray, np.ndarray]:
    """The two Euler triples of each rotation: the principal one and its flip (first and last
    + pi, middle pi - angle), which is the same rotation."""
    principal = quaternion_to_euler(quats, order).reshape(-1, 3)
    j = _axes(order)[1]
    flipped = principal + np.pi
    flipped[:, j] = np.pi - principal[:, j]
    return principal, flipped


def _wrapped(angles: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The angles plus whole turns, each as close as possible to its reference."""
    return angles + 2.0 * np.pi * np.round((reference - angles) / (2.0 * np.pi))


def _turn_gap(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise distance between Euler triples, each angle modulo whole turns."""
    return np.abs(np.remainder(x - y + np.pi, 2.0 * np.pi) - np.pi).sum(axis=1)


def euler_near(quats: np.ndarray, order: str, references: np.ndarray) -> np.ndarray:
    """(N,4) quaternions -> (N,3) Euler angles in `order`, each the one closest to its own
    reference row (several bones at one moment: live preview)."""
    references = np.asarray(references, np.float64).reshape(-1, 3)
    a, b = (_wrapped(c, references) for c in _euler_pair(quats, order))
    use_b = np.abs(b - references).sum(axis=1) < np.abs(a - references).sum(axis=1)
    return np.where(use_b[:, None], b, a)


_EULER_BLOCK = 8192  # frames converted at once: the temporaries (~400 bytes a frame) stay this long


def continuous_euler(quats: np.ndarray, order: str, reference=None) -> np.ndarray:
    """(N,4) quaternions -> (N,3) Euler angles in `order`, each frame the closest to the one
    before (the first closest to `reference`): no jumps of 360 degrees, no flips near gimbal lock.

    A long take goes in blocks, each continuing from the last angles of the one before."""
    if len(quats) <= _EULER_BLOCK:
        return _continuous_euler(quats, order, reference)
    parts: list[np.ndarray] = []
    for start in range(0, len(quats), _EULER_BLOCK):
        parts.append(_continuous_euler(quats[start:start + _EULER_BLOCK], order,
                                       parts[-1][-1] if parts else reference))
    return np.concatenate(parts)


def _continuous_euler(quats: np.ndarray, order: str, reference=None) -> np.ndarray:
    pair = _euler_pair(quats, order)
    if not len(pair[0]):
        return pair[0]
    start = pair[0][0] if reference is None else np.asarray(reference, np.float64)
    first = euler_near(quats[:1], order, start)[0]
    # Which of the pair each frame takes: the one nearer (modulo whole turns) to the choice of
    # the frame before. Distances between the four pairings are computed at once; only the
    # two-way choice walks the frames (~0.3 us a frame).
    a, b = pair
    aa, ab, ba, bb = (_turn_gap(x[1:], y[:-1]).tolist() for x, y in ((a, a), (a, b), (b, a), (b, b)))
    on_b = [bool(np.abs(_wrapped(b[0], start) - first).sum() < 1e-9)]
    for n in range(len(aa)):  # from A after A: aa; from A after B: ab; ...
        on_b.append(bb[n] < ab[n] if on_b[-1] else ba[n] < aa[n])
    chosen = np.where(np.array(on_b)[:, None], b, a)
    # whole turns: each step wrapped into (-pi, pi], then summed from the first frame
    steps = np.remainder(np.diff(chosen, axis=0) + np.pi, 2.0 * np.pi) - np.pi
    return np.vstack([first, first + np.cumsum(steps, axis=0)])


def bone_rotation_channels(quats: np.ndarray, mode: str, current) -> np.ndarray:
    """(N,4) rotations of one bone over time -> (N, 4 or 3) values of its rotation property in
    its rotation mode ('QUATERNION', 'AXIS_ANGLE' or an Euler order), continuous from
    `current` (the property's value now): what a bake writes."""
    if mode == "QUATERNION":
        return continuous_quaternions(quats, np.asarray(current, np.float64))
    if mode == "AXIS_ANGLE":
        return quaternion_to_axis_angle(continuous_quaternions(quats))
    return continuous_euler(quats, mode, current)


def bone_rotation_near(quats: np.ndarray, mode: str, currents: np.ndarray) -> np.ndarray:
    """(N,4) rotations of N bones in the same mode at one moment -> their property values,
    each closest to that bone's present value (currents, (N, 4 or 3)): what live preview writes."""
    quats = np.asarray(quats, np.float64).reshape(-1, 4)
    if mode == "QUATERNION":
        flip = np.einsum("ij,ij->i", quats, np.asarray(currents, np.float64).reshape(-1, 4)) < 0.0
        return np.where(flip[:, None], -quats, quats)
    if mode == "AXIS_ANGLE":
        return quaternion_to_axis_angle(quats)
    return euler_near(quats, mode, currents)


def bone_rotation_quaternion(mode: str, euler, quaternion, axis_angle) -> np.ndarray:
    """(4,) the rotation a bone's properties hold in its mode, as a unit quaternion."""
    if mode == "QUATERNION":
        q = np.asarray(quaternion, np.float64)
        return q / (np.linalg.norm(q) or 1.0)
    if mode == "AXIS_ANGLE":
        return axis_angle_to_quaternion(axis_angle)[0]
    return euler_to_quaternion(np.reshape(euler, (1, 3)), mode)[0]


# --- one rotation in floats (the live smoother: three rotations a frame) ---------------------

def quaternion_from_euler_xyz(x: float, y: float, z: float) -> tuple[float, float, float, float]:
    """euler_to_quaternion for one XYZ rotation, in floats."""
    cx, cy, cz = math.cos(x / 2), math.cos(y / 2), math.cos(z / 2)
    sx, sy, sz = math.sin(x / 2), math.sin(y / 2), math.sin(z / 2)
    return (cx * cy * cz + sx * sy * sz, sx * cy * cz - cx * sy * sz,
            cx * sy * cz + sx * cy * sz, cx * cy * sz - sx * sy * cz)


def euler_xyz_from_quaternion(w: float, x: float, y: float, z: float) -> tuple[float, float, float]:
    """quaternion_to_euler for one unit quaternion to XYZ, in floats."""
    return (math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y)),
            math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x)))),
            math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
