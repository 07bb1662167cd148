"""The live puppet: a still selfie moved by a driver face's expression and head pose, with mesh-driven warps.

How a driver moves the source (docs/round2.md A3):

1. **Align.** The driver's 478-point mesh is fitted to the source's with a 3-D similarity (Umeyama) on landmarks
   that expressions barely move (forehead, temples, nose, eye corners). The fit's rotation is the driver's head
   pose relative to the source; the driver mesh carried into the source's frame by the inverse fit holds its
   expression at the source's size.
2. **Offsets from neutral.** A webcam stream's neutral is its first frames (the user looks at the camera with a
   relaxed face): each later frame drives the source by its smoothed offsets from them (a One Euro filter per
   coordinate) and its rotation since them. A single driver photo has no neutral frame: its lips are taken as
   they are (LivePortrait drives from one image the same way) and spread to the jaw, its eyes are read against a
   relaxed eye, and the rest of the face keeps the source's shape (`still_offsets`).
3. **Warp.** The *whole* mesh moves (moving a subset tears the jaw), plus a ring around the face that follows the
   head rigidly (hair, ears) and a still ring and the image corners that pin everything else: one dense
   piecewise-affine map, one remap (`studio.mesh_warp`).
4. **Mouth.** Opening lips by warping would stretch lip texture over the gap, so the inner-lip polygon is filled
   with the driver's own mouth (teeth, tongue, cavity) warped onto it and shaded like the source's skin.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.mesh_warp import MeshWarp
from studio.preprocess.face import Face
from studio.preprocess.regions import FACE_OVAL, LEFT_EYE, LIPS_INNER, LIPS_OUTER, RIGHT_EYE

#: Landmarks expressions barely move: upper face outline, nose, eye corners. The head pose is fitted on them.
STABLE = (10, 338, 297, 332, 284, 251, 389, 356, 454, 234, 127, 162, 21, 54, 103, 67, 109,
          168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 129, 358, 33, 133, 263, 362)  # fmt: skip
LIPS_ALL = (0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269,
            270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415)  # FACEMESH_LIPS; fmt: skip
#: The largest head turn a 2-D warp shows without revealing what the photo never saw (degrees, any axis).
MAX_TURN_DEG = 20.0
#: Rings around the face, as multiples of the face oval's size about its centre: the inner one follows the head
#: rigidly (hair, ears), the outer one stays put, and the warp fades between them.
HEAD_RING, STILL_RING = 1.3, 2.1
#: Depth is flattened by this much before the head turns: a 2-D warp cannot show the far cheek going out of sight,
#: and at full depth the silhouette's triangles fold over (a seam along the jaw); flatter, a turn reads as a turn
#: without folding.
DEPTH_SCALE = 0.35
#: A webcam frame whose drive moved every point less than this (pixels) shows the last frame again.
STILL_PX = 0.1
#: Frames averaged into a webcam stream's neutral pose.
NEUTRAL_FRAMES = 3


def _eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return points[list(RIGHT_EYE), :2].mean(0), points[list(LEFT_EYE), :2].mean(0)


def interocular(points: np.ndarray) -> float:
    r, left = _eye_centres(points)
    return float(max(np.linalg.norm(left - r), 1e-3))


def mouth_opening(points: np.ndarray) -> float:
    """How open the mouth is: the mean gap between the inner lips (13/14 and the pairs beside them) over the
    distance between the eye centres. ~0 closed, ~0.3 a wide laughing mouth; unaffected by the photo's scale."""
    pairs = ((13, 14), (82, 87), (312, 317), (81, 178), (311, 402))
    gap = np.mean([np.linalg.norm(points[a, :2] - points[b, :2]) for a, b in pairs])
    return float(gap / interocular(points))


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(s, R, t) minimising ‖dst − (s·R·src + t)‖² over 3-D point pairs (Umeyama, IEEE PAMI 13(4), 1991)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1.0
    rot = u @ sign @ vt
    var = (a**2).sum() / len(src)
    scale = float(np.trace(np.diag(d) @ sign) / max(var, 1e-9))
    return scale, rot, mu_d - scale * rot @ mu_s


def clamp_rotation(rot: np.ndarray, max_deg: float = MAX_TURN_DEG) -> tuple[np.ndarray, bool]:
    from scipy.spatial.transform import Rotation

    vec = Rotation.from_matrix(rot).as_rotvec()
    angle = float(np.degrees(np.linalg.norm(vec)))
    if angle <= max_deg:
        return rot, False
    return Rotation.from_rotvec(vec * max_deg / angle).as_matrix(), True


def angles_deg(rot: np.ndarray) -> dict[str, float]:
    """Yaw (turn), pitch (nod) and roll (tilt) of a rotation, degrees, for reports."""
    from scipy.spatial.transform import Rotation

    yaw, pitch, roll = Rotation.from_matrix(rot).as_euler("YXZ", degrees=True)
    return {"yaw": round(float(yaw), 1), "pitch": round(float(pitch), 1), "roll": round(float(roll), 1)}


#: Lid gap over eye width of a relaxed open eye (both lids' mid points over the corner distance), the neutral a
#: single driver photo's eyes are read against: the mean of the five frontal fixture faces that do not smile
#: (0.30–0.39).
NEUTRAL_EYE_OPEN = 0.35
#: Openness above this share of the relaxed value reads as open: eyes narrower than average at rest stay open.
EYE_DEAD_ZONE = 0.85
_EYE_LIDS = {"right": (33, 133, 159, 145), "left": (263, 362, 386, 374)}  # outer, inner corner; upper, lower mid


def eye_openness(points: np.ndarray, side: str) -> float:
    outer, inner, up, low = _EYE_LIDS[side]
    width = np.linalg.norm(points[outer, :2] - points[inner, :2])
    return float(np.linalg.norm(points[up, :2] - points[low, :2]) / max(width, 1e-3))


def still_offsets(mesh: np.ndarray, carried: np.ndarray) -> np.ndarray:
    """Offsets (478×3, source pixels) a *single* driver photo asks of the source, whose shape stays the source's:

    - lips: the driver's opening and smile (its inner-lip ring, carried into the source's frame), the source's lips
      around it;
    - lids: each eye closed by as much as the driver's is narrower than a relaxed eye (`NEUTRAL_EYE_OPEN`), the lids
      of the source's own eye moved, never replaced (eye shape is identity);
    - chin, jaw and cheeks: the lips' motion spread to them (a Gaussian-weighted mean of the nearest lip offsets),
      fully below the mouth (the jaw is one bone) and fading sideways and towards the nose;
    - forehead, nose, brows and the face outline above the mouth: unchanged.
    """
    p = mesh[:, :2]
    iod = interocular(mesh)
    offsets = np.zeros_like(mesh)
    # The opening is the driver's inner-lip ring (at the source's scale), hung from the source's upper-lip centre (13);
    # the outer ring follows its inner partner point by point, so the lips keep the source's fullness.
    ring = carried[list(LIPS_INNER)] - carried[13]
    offsets[list(LIPS_INNER)] = mesh[13] + ring - mesh[list(LIPS_INNER)]
    offsets[list(LIPS_OUTER)] = offsets[list(LIPS_INNER)]  # the two rings list partner points in the same order
    lips = list(LIPS_ALL)
    for side, ring in (("right", RIGHT_EYE), ("left", LEFT_EYE)):
        outer, inner = _EYE_LIDS[side][:2]
        # Only a clear squint or blink closes the source's eyes (narrow eyes at rest are the driver's, not a mood).
        factor = float(np.clip(eye_openness(carried, side) / (EYE_DEAD_ZONE * NEUTRAL_EYE_OPEN), 0.1, 1.0))
        axis = p[inner] - p[outer]
        normal = np.array([-axis[1], axis[0]]) / max(np.linalg.norm(axis), 1e-3)
        idx = list(ring)
        along = (p[idx] - p[outer]) @ normal  # signed distance from the corner line
        offsets[idx, :2] += (factor - 1.0) * along[:, None] * normal
    mouth = p[list(LIPS_OUTER)].mean(0)
    u = (p - mouth) / iod
    reach = np.where(u[:, 1] > 0, np.clip(1.0 - np.abs(u[:, 0]) / 1.1, 0, 1),
                     np.clip(1.0 - np.abs(u[:, 0]) / 1.0, 0, 1) * np.clip(1.0 + u[:, 1] / 0.35, 0, 1))
    rest = np.setdiff1d(np.arange(len(p)), lips + list(RIGHT_EYE) + list(LEFT_EYE))
    d2 = ((p[rest, None, :] - p[None, lips, :]) ** 2).sum(-1) / (0.12 * iod) ** 2
    kernel = np.exp(-0.5 * (d2 - d2.min(axis=1, keepdims=True)))  # shifted: the nearest lip point always counts
    spread = kernel @ offsets[lips] / kernel.sum(axis=1, keepdims=True)
    offsets[rest] = spread * reach[rest, None]
    offsets[list(STABLE)] = 0.0
    return offsets


@dataclass
class Rig:
    """A source photo made ready to be driven: its mesh, the rings around it, the warp and what the mouth fill
    needs. Built once per source (`build_rig`) and cached."""

    image: np.ndarray
    mesh: np.ndarray  # (478, 3) source landmarks, pixels
    rings: np.ndarray  # (R, 3) head ring then still ring
    n_head: int  # how many of `rings` are the head ring
    warp: MeshWarp
    pivot: np.ndarray  # (3,) the head's centre of rotation
    iod: float
    skin_lab: np.ndarray  # mean Lab of the cheeks, for shading the mouth fill
    mouth_open: float


def build_rig(rgb: np.ndarray, face: Face) -> Rig:
    mesh = face.landmarks.astype(np.float64).copy()
    h, w = rgb.shape[:2]
    oval = mesh[list(FACE_OVAL)]
    centre = oval.mean(0)
    face_h = float(np.ptp(oval[:, 1]))
    head = centre + (oval - centre) * HEAD_RING
    head[:, 2] = oval[:, 2]  # hair and ears sit about as deep as the face's outline
    head[:, 1] -= np.clip(centre[1] - oval[:, 1], 0, None) / max(face_h, 1) * 0.25 * face_h  # room for hair on top
    still = centre + (oval - centre) * STILL_RING
    still[:, 2] = centre[2]
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    rings = np.vstack([head, still, np.column_stack([corners, np.full(len(corners), centre[2])])])
    points = np.vstack([mesh, rings])
    warp = MeshWarp(points[:, :2], (h, w), rig_triangles(points[:, :2], len(mesh)))
    pivot = mesh[list(STABLE)].mean(0)
    pivot[2] += 0.6 * face_h  # the neck turns the head about a point behind the face, not on its skin
    return Rig(rgb, mesh, rings, len(head), warp, pivot, interocular(mesh), _skin_lab(rgb, face),
               mouth_opening(mesh))  # fmt: skip


_TESSELLATION: list = []


def tessellation() -> np.ndarray:
    """MediaPipe's face-mesh triangles (the 3-cliques of FACEMESH_TESSELATION's edges), (T, 3). They follow the
    face's surface, unlike a 2-D Delaunay of the projected points, which links points near the silhouette that lie
    far apart in depth and folds as soon as the head turns."""
    if not _TESSELLATION:
        from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

        near: dict[int, set] = {}
        for a, b in FACEMESH_TESSELATION:
            near.setdefault(a, set()).add(b)
            near.setdefault(b, set()).add(a)
        found = {tuple(sorted((a, b, c))) for a, b in FACEMESH_TESSELATION for c in near[a] & near[b]}
        _TESSELLATION.append(np.array(sorted(found), np.int32))
    return _TESSELLATION[0]


def _delaunay_in(points: np.ndarray, indices, polygon, inside: bool) -> np.ndarray:
    """Delaunay triangles of `points[indices]` (as indices into `points`) whose centroid is inside (or outside)
    the polygon `points[polygon]`."""
    from scipy.spatial import Delaunay

    idx = np.asarray(indices)
    tris = idx[Delaunay(points[idx]).simplices]
    poly = points[list(polygon)].astype(np.float32).reshape(-1, 1, 2)
    keep = [(cv2.pointPolygonTest(poly, tuple(map(float, points[t].mean(0))), False) >= 0) == inside for t in tris]
    return tris[np.array(keep, bool)] if len(tris) else tris


def rig_triangles(points: np.ndarray, n_mesh: int) -> np.ndarray:
    """The puppet's triangles: the face's own mesh, its holes (mouth, eyes with their irises) filled, and the
    rings around it triangulated outside the face outline."""
    holes = [_delaunay_in(points, LIPS_INNER, LIPS_INNER, True),
             _delaunay_in(points, RIGHT_EYE + tuple(range(468, 473)), RIGHT_EYE, True),
             _delaunay_in(points, LEFT_EYE + tuple(range(473, 478)), LEFT_EYE, True)]  # fmt: skip
    outer = _delaunay_in(points, list(FACE_OVAL) + list(range(n_mesh, len(points))), FACE_OVAL, False)
    return np.vstack([outer, tessellation(), *holes])


def untouched(rig: Rig) -> np.ndarray:
    """bool mask of the pixels no drive can change: outside the still ring."""
    h, w = rig.image.shape[:2]
    inside = np.zeros((h, w), np.uint8)
    ring = rig.rings[rig.n_head : rig.n_head + len(FACE_OVAL), :2]
    cv2.fillPoly(inside, [np.round(ring).astype(np.int32)], 1)
    return inside == 0


def _skin_lab(rgb: np.ndarray, face: Face) -> np.ndarray:
    from studio.color import mean_lab

    return mean_lab(rgb, face.regions.full("cheeks") > 0)


def in_source_frame(rig: Rig, driver: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(driver mesh carried into the source's frame and size, the driver's rotation relative to the source)."""
    s, rot, t = umeyama(rig.mesh[list(STABLE)], driver[list(STABLE)].astype(np.float64))
    return (driver - t) @ rot / s, rot


@dataclass
class Drive:
    """What one driver frame asks of the source: expression offsets (478×3, source pixels) and a head rotation."""

    offsets: np.ndarray
    rotation: np.ndarray
    clamped: bool = False
    mouth: tuple[np.ndarray, np.ndarray] | None = None  # (driver RGB, driver inner-lip points) for the fill


def still_drive(rig: Rig, driver_rgb: np.ndarray, driver: Face) -> Drive:
    """A single driver photo: its mobile regions as they are, its head pose relative to the source's."""
    carried, rot = in_source_frame(rig, driver.landmarks)
    rot, clamped = clamp_rotation(rot)
    offsets = still_offsets(rig.mesh, carried)
    return Drive(offsets, rot, clamped, (driver_rgb, driver.landmarks[list(LIPS_INNER), :2]))


class OneEuro:
    """The One Euro filter (Casiez, Roussel & Vogel, CHI 2012) on an array: smooths jitter when still, follows
    fast when moving. `min_cutoff` Hz sets the smoothing at rest, `beta` how fast speed opens it."""

    def __init__(self, min_cutoff: float = 1.5, beta: float = 0.05, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value = self.speed = None
        self.last = 0.0

    @staticmethod
    def _alpha(cutoff, dt):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, now: float) -> np.ndarray:
        if self.value is None:
            self.value, self.speed, self.last = x.copy(), np.zeros_like(x), now
            return x
        dt = float(np.clip(now - self.last, 1e-3, 0.5))
        self.last = now
        speed = (x - self.value) / dt
        self.speed += self._alpha(self.d_cutoff, dt) * (speed - self.speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self.speed)
        self.value = self.value + self._alpha(cutoff, dt) * (x - self.value)
        return self.value


@dataclass
class PuppetStream:
    """A webcam stream driving one source: its neutral pose (the first frames) and the smoothing state."""

    key: object = None
    neutral: list = field(default_factory=list)  # (carried mesh, rotation) of the first frames
    filter: OneEuro = field(default_factory=OneEuro)
    rot_filter: OneEuro = field(default_factory=lambda: OneEuro(1.0, 0.5))
    last_seen: float = 0.0
    last: tuple | None = None  # (offsets, rotation, image) of the last frame rendered

    def reset(self, key=None) -> None:
        self.key, self.neutral, self.last = key, [], None
        self.filter, self.rot_filter = OneEuro(), OneEuro(1.0, 0.5)

    def frame(self, rig: Rig, rgb: np.ndarray, face: Face, scale: float = 0.5) -> np.ndarray:
        """The source moved by this frame's face; the last image again when the drive moved less than
        `STILL_PX` (a face held still: nothing a viewer could see would change)."""
        drive = self.drive(rig, rgb, face)
        if self.last is not None:
            offsets, rotation, image = self.last
            if np.abs(drive.offsets - offsets).max() < STILL_PX and np.abs(drive.rotation - rotation).max() < 1e-3:
                return image
        image = render(rig, drive, scale)[0]
        self.last = (drive.offsets, drive.rotation, image)
        return image

    def drive(self, rig: Rig, frame: np.ndarray, face: Face, now: float | None = None) -> Drive:
        now = time.perf_counter() if now is None else now
        if now - self.last_seen > 2.0:  # the camera stopped for a while: whoever comes back sets a new neutral
            self.reset(self.key)
        self.last_seen = now
        carried, rot = in_source_frame(rig, face.landmarks)
        if len(self.neutral) < NEUTRAL_FRAMES:
            self.neutral.append((carried, rot))
        rest = np.mean([n[0] for n in self.neutral], axis=0)
        rest_rot = self.neutral[0][1]
        from scipy.spatial.transform import Rotation

        relative = Rotation.from_matrix(rot @ rest_rot.T).as_rotvec()
        relative = Rotation.from_rotvec(self.rot_filter(relative, now)).as_matrix()
        relative, clamped = clamp_rotation(relative)
        offsets = self.filter(carried - rest, now)
        return Drive(offsets, relative, clamped, (frame, face.landmarks[list(LIPS_INNER), :2]))


def targets(rig: Rig, drive: Drive) -> np.ndarray:
    """Where every control point goes (mesh, head ring, still ring, corners), (N, 3): pixels and depth."""
    flat = np.array([1.0, 1.0, DEPTH_SCALE])
    moved = ((rig.mesh + drive.offsets - rig.pivot) * flat) @ drive.rotation.T / flat + rig.pivot
    head = rig.rings[: rig.n_head]
    rigid = ((head - rig.pivot) * flat) @ drive.rotation.T / flat + rig.pivot
    below = head[:, 1] > rig.mesh[list(LIPS_OUTER), 1].mean()  # the neck turns less than the head
    rigid[below] = head[below] + 0.5 * (rigid[below] - head[below])
    return np.vstack([moved, rigid, rig.rings[rig.n_head :]])


def render(rig: Rig, drive: Drive, scale: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(the source moved as the drive says, the moved mesh (478, 3): pixels and depth)."""
    goal = targets(rig, drive)
    depth = goal[:, 2].copy()
    depth[len(rig.mesh) :] = depth[: len(rig.mesh)].max() + rig.iod * 10  # the face always covers what is around it
    out = rig.warp.warp(rig.image, goal[:, :2], scale, depth=depth)
    mesh = goal[: len(rig.mesh)]
    if drive.mouth is not None:
        out = fill_mouth(out, rig, mesh[:, :2], *drive.mouth)
    return out, mesh


def fill_mouth(image: np.ndarray, rig: Rig, mesh: np.ndarray, driver_rgb: np.ndarray,
               driver_lips: np.ndarray) -> np.ndarray:  # fmt: skip
    """Paint the driver's inner mouth into the opened lips of the moved source, shaded like the source's skin."""
    opening = mouth_opening(mesh) - rig.mouth_open
    if opening < 0.02:
        return image  # the lips are no further apart than in the source photo: its own mouth shows
    inner = mesh[list(LIPS_INNER)].astype(np.float32)
    x0, y0 = np.floor(inner.min(0)).astype(int) - 3
    x1, y1 = np.ceil(inner.max(0)).astype(int) + 4
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return image
    matrix, _ = cv2.estimateAffine2D(driver_lips.astype(np.float32), inner - [x0, y0], method=cv2.LMEDS)
    if matrix is None:
        return image
    patch = cv2.warpAffine(driver_rgb, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    patch = _shade(patch, rig.skin_lab)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((inner - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(0.6, 0.01 * rig.iod))
    alpha *= min(1.0, opening / 0.05)  # a mouth just parting shows its edge gradually
    region = image[y0:y1, x0:x1].astype(np.float32)
    out = image.copy()
    out[y0:y1, x0:x1] = np.clip(region + (patch.astype(np.float32) - region) * alpha[..., None] + 0.5, 0, 255)
    return out


def _shade(patch: np.ndarray, skin_lab: np.ndarray) -> np.ndarray:
    """Teeth and tongue from another photo, darkened or lightened to sit in this face's light: the driver's mouth
    keeps its own contrast, its brightness follows the source's skin (inner mouths are darker than skin)."""
    lab = cv2.cvtColor(patch, cv2.COLOR_RGB2LAB).astype(np.float32)
    target_l = float(skin_lab[0]) * 255.0 / 100.0
    lab[..., 0] *= np.clip(target_l / max(float(np.percentile(lab[..., 0], 90)), 1.0), 0.5, 1.6)
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
