"""Face landmarks, head pose and physical scale (MediaPipe Face Landmarker, offline).

The landmarker runs on a copy of the photo whose long side is at most ``DETECT_MAX_SIDE`` px
(its mesh model works on a 256 px crop anyway); when it finds no face, the full-range face
detector looks for small faces and the landmarker is run again on a crop around each one.

Orientation: a photo whose orientation was lost shows the face on its side or upside down. On
its side, the face is found with a roll near 90 degrees (the quality gate refuses it, saying
so). Where no face is found at all, the landmarker is tried on the photo turned
(``FaceFinder.upright_turn``), and the ``no_face`` refusal says so when that shows one.
Upside down, the landmarker may also fit its upright mesh with a roll near 0. Such a fit
often does not follow a turn of the photo (``FaceFinder.follows_turns``), and the photo is
then refused; three of the 19 shared faces turned over still pass (``docs/method.md``).

Expression: the landmarker's blendshape model scores 52 facial movements (ARKit's names,
0 to 1: ``mouthSmileLeft``, ``browDownRight``, ...) from the mesh; ``Face.expression`` keeps
them, and ``analysis.expression`` reads a comparison's change of expression from them.

Scale: the visible iris diameter of adults is close to 11.7 mm (Caroline & Andre 2002 report
11.71 +- 0.42 mm), so ``mm_per_px = 11.7 / iris diameter in px``, averaged over both eyes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import cv2
import numpy as np

from analysis import landmarks as lm
from analysis.errors import ExtremePose, MultipleFaces, NoFace
from analysis.types import F32, U8

IRIS_DIAMETER_MM = 11.7
DETECT_MAX_SIDE = 1280
FALLBACK_CROP_MARGIN = 0.6  # the crop around a full-range detection adds this much per side
SIMILAR_FACE_RATIO = 0.6  # a second face at least this wide (relative) makes the photo ambiguous
SIDEWAYS_ROLL_DEG = 60.0  # a face tilted this far lies in a photo turned on its side
TURN_CHECK_DEG = (-20.0, 20.0)  # the photo is turned by these to see the face's roll follow
TURN_CHECK_SIDE = 640  # ... on a copy this size (the mesh model looks at 256 px)
TURN_TOLERANCE_DEG = 8.0  # ... within this (upright faces: 2.7 at most on the shared faces)
MAX_YAW_DEG = 35.0  # the most turn a face is measured at (the quality gate's default limit)


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees (MediaPipe's facial transformation matrix, Y-X-Z Euler angles).

    yaw: turn about the vertical axis, 0 facing the camera, sign flips in a mirrored photo.
    pitch: nod about the horizontal axis. roll: in-plane tilt.
    """

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True, eq=False)
class Face:
    """One face found in a photo.

    points: (478, 2) float32 landmark positions (x, y) in the photo's pixels.
    pose: head pose. iris_diameter_px: mean visible iris diameter of both eyes.
    mm_per_px: physical scale at the face, from the irises unless ``scale_source == "given"``.
    other_faces: how many further, clearly smaller faces were seen (see SIMILAR_FACE_RATIO).
    detector: ``"landmarker"`` or ``"full_range"`` (found by the fallback detector).
    expression: blendshape scores (0-1) by ARKit name; empty when the landmarks were given.
    depth: (478,) float32 relative depth of each landmark in the photo's pixels (MediaPipe's
    z: smaller is nearer the camera, about the scale of x); None when the landmarks were given.
    """

    points: F32
    pose: Pose
    iris_diameter_px: float
    mm_per_px: float
    scale_source: str
    other_faces: int = 0
    detector: str = "landmarker"
    expression: Mapping[str, float] = field(default_factory=dict)
    depth: F32 | None = None

    @property
    def width_px(self) -> float:
        xs = self.points[list(lm.FACE_OVAL), 0]
        return float(xs.max() - xs.min())

    @property
    def interocular_px(self) -> float:
        right = self.points[lm.RIGHT_IRIS[0]]
        left = self.points[lm.LEFT_IRIS[0]]
        return float(np.hypot(*(left - right)))


class Found(NamedTuple):
    """One face the landmarker fitted: landmarks (photo px), head pose, blendshape scores, and
    each landmark's relative depth (photo px, ``Face.depth``; None when not known)."""

    points: F32
    pose: Pose
    expression: Mapping[str, float]
    depth: F32 | None = None

    def moved(self, scale: float, offset: F32 | float = 0.0) -> Found:
        """The same face in a copy of the photo resized by ``1 / scale`` then shifted."""
        depth = None if self.depth is None else self.depth / scale
        return self._replace(points=self.points / scale + offset, depth=depth)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the C++ runtime's log lines while a model is created (fd-level redirect)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def pose_from_matrix(matrix: Any) -> Pose:
    """Y-X-Z Euler angles (degrees) of the rotation part of a 4x4 transformation matrix."""
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    yaw = np.degrees(np.arctan2(r[0, 2], r[2, 2]))
    pitch = np.degrees(np.arcsin(np.clip(-r[1, 2], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(r[1, 0], r[1, 1]))
    return Pose(float(yaw), float(pitch), float(roll))


def iris_diameter_px(points: F32, *, nearer: bool = False) -> float:
    """Mean horizontal visible-iris diameter of both eyes, in pixels; with ``nearer``, the
    larger of the two (a side view's nearer eye: the far one is foreshortened more, and the
    nose and lids cut into it).

    The horizontal chord is used because the lids often cover the top and bottom of the iris.
    """
    diameters = []
    for iris in (lm.RIGHT_IRIS, lm.LEFT_IRIS):
        contour = points[list(iris[1:])]
        diameters.append(float(contour[:, 0].max() - contour[:, 0].min()))
    return float(max(diameters) if nearer else np.mean(diameters))


class FaceFinder:
    """MediaPipe Face Landmarker plus the full-range detector, loaded from the bundled files.

    Not thread-safe by itself: calls are serialised with a lock. Close it (or use it as a
    context manager) so that MediaPipe does not print a traceback at interpreter exit.
    """

    def __init__(self, max_faces: int = 4) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        from models.loader import FACE_DETECTOR_FULL_RANGE, FACE_LANDMARKER, bundled

        self._lock = threading.Lock()
        with _quiet_stderr():
            self._landmarker = vision.FaceLandmarker.create_from_options(
                vision.FaceLandmarkerOptions(
                    base_options=BaseOptions(model_asset_buffer=bundled(FACE_LANDMARKER)),
                    num_faces=max_faces,
                    min_face_detection_confidence=0.5,
                    min_face_presence_confidence=0.5,
                    output_facial_transformation_matrixes=True,
                    output_face_blendshapes=True,
                )
            )
            self._detector = vision.FaceDetector.create_from_options(
                vision.FaceDetectorOptions(
                    base_options=BaseOptions(model_asset_buffer=bundled(FACE_DETECTOR_FULL_RANGE)),
                    min_detection_confidence=0.5,
                )
            )
        self._closed = False

    def close(self) -> None:
        with self._lock, _quiet_stderr():
            if not self._closed:
                self._landmarker.close()
                self._detector.close()
                self._closed = True

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _landmark(self, rgb: U8) -> list[Found]:
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._landmarker.detect(image)
        h, w = rgb.shape[:2]
        faces = []
        for i, marks in enumerate(result.face_landmarks):
            pts = np.array([[p.x * w, p.y * h] for p in marks], dtype=np.float32)
            depth = np.array([p.z * w for p in marks], dtype=np.float32)
            matrices = result.facial_transformation_matrixes
            pose = pose_from_matrix(matrices[i]) if i < len(matrices) else Pose(0.0, 0.0, 0.0)
            shapes = result.face_blendshapes
            scores = {c.category_name: float(c.score) for c in shapes[i]} if i < len(shapes) else {}
            faces.append(Found(pts, pose, scores, depth))
        return faces

    def _full_range_boxes(self, rgb: U8) -> list[tuple[int, int, int, int]]:
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        boxes = []
        with _quiet_stderr():  # the detector's graph logs on its first call
            detections = self._detector.detect(image).detections
        for det in detections:
            b = det.bounding_box
            boxes.append((b.origin_x, b.origin_y, b.width, b.height))
        return boxes

    def find_all(self, rgb: U8, *, small: U8 | None = None) -> tuple[list[Found], str]:
        """Each face's landmarks in photo pixels, largest first, and which path found them
        (``small``: the photo's ``detection_copy``, when the caller already has it)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("FaceFinder is closed")
            scale = _detection_scale(rgb)
            small = detection_copy(rgb) if small is None else small
            faces = [f.moved(scale) for f in self._landmark(small)]
            detector = "landmarker"
            if not faces:
                detector = "full_range"
                # the full-range model looks at 192 px: try the reduced copy, then twice as fine
                for s in dict.fromkeys((scale, min(1.0, 2 * scale))):
                    for x, y, bw, bh in self._full_range_boxes(_resize(rgb, s)):
                        faces.extend(self._landmark_in_box(rgb, (x, y, bw, bh), s))
                    if faces:
                        break
        faces.sort(key=lambda f: -_width(f.points))
        return _distinct(faces), detector

    def follows_turns(self, small: U8, roll: float, centre: F32) -> bool:
        """Whether the face found with ``roll`` at ``centre`` (its landmarks' mean, in the
        pixels of ``small``, the photo's ``detection_copy``) is found again, its roll turned as
        much, in that copy turned about ``centre`` by each of ``TURN_CHECK_DEG`` (within
        ``TURN_TOLERANCE_DEG``).

        An upright face always is. An upside-down face that the landmarker fitted as upright
        (a roll near 0, the mouth read as the forehead) often is not: it is lost, or its roll
        strays (docs/method.md)."""
        factor = min(1.0, TURN_CHECK_SIDE / max(small.shape[:2]))
        small = _resize(small, factor)
        h, w = small.shape[:2]
        cx, cy = (float(v) * factor for v in centre)
        for angle in TURN_CHECK_DEG:
            turn = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
            turned = cv2.warpAffine(small, turn, (w, h), borderMode=cv2.BORDER_REPLICATE)
            faces, _ = self.find_all(np.asarray(turned, np.uint8))
            strays = [abs(f.pose.roll - roll - angle) for f in faces]
            if min(strays, default=np.inf) > TURN_TOLERANCE_DEG:
                return False
        return True

    def upright_turn(self, small: U8) -> int:
        """For a photo in which no face was found (``small``: its ``detection_copy``), the turn
        (degrees, clockwise: 180, 90 or 270) after which the landmarker finds an upright face
        in it; 0 when none does."""
        with self._lock:
            if self._closed:
                raise RuntimeError("FaceFinder is closed")
            for turn in (180, 90, 270):
                found = self._landmark(np.ascontiguousarray(np.rot90(small, -(turn // 90))))
                if any(abs(f.pose.roll) < SIDEWAYS_ROLL_DEG for f in found):
                    return turn
        return 0

    def _landmark_in_box(
        self, rgb: U8, box: tuple[int, int, int, int], scale: float
    ) -> list[Found]:
        x, y, bw, bh = (v / scale for v in box)
        m = FALLBACK_CROP_MARGIN * max(bw, bh)
        x0, y0 = max(0, int(x - m)), max(0, int(y - m))
        x1, y1 = min(rgb.shape[1], int(x + bw + m)), min(rgb.shape[0], int(y + bh + m))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return []
        crop = rgb[y0:y1, x0:x1]
        crop_scale = min(4.0, 512 / max(crop.shape[:2]))
        found = self._landmark(_resize(crop, crop_scale))
        offset = np.array([x0, y0], dtype=np.float32)
        return [f.moved(crop_scale, offset) for f in found[:1]]


def _distinct(faces: list[Found]) -> list[Found]:
    """``faces`` (largest first) without the ones that are a larger face found again (their
    centre inside its outline): the landmarker can return two meshes of one face, as it did
    for portraits turned on their side or by 120 degrees, which then read as two faces."""
    kept: list[Found] = []
    for face in faces:
        centre = face.points.mean(0)
        if not any(_inside(centre, other.points) for other in kept):
            kept.append(face)
    return kept


def _inside(point: F32, points: F32) -> bool:
    """Whether ``point`` lies inside the face outline of the landmarks ``points``."""
    outline = points[list(lm.FACE_OVAL)].astype(np.float32).reshape(-1, 1, 2)
    x, y = (float(v) for v in point)
    return bool(cv2.pointPolygonTest(outline, (x, y), False) >= 0)


def _width(points: F32) -> float:
    xs = points[list(lm.FACE_OVAL), 0]
    return float(xs.max() - xs.min())


def _detection_scale(rgb: U8) -> float:
    return min(1.0, DETECT_MAX_SIDE / float(max(rgb.shape[:2])))


def detection_copy(rgb: U8) -> U8:
    """The photo reduced to at most ``DETECT_MAX_SIDE`` px, as the landmarker looks at it."""
    return _resize(rgb, _detection_scale(rgb))


def _resize(rgb: U8, scale: float) -> U8:
    if scale == 1.0:
        return rgb
    h, w = rgb.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=interp))


def _close_at_exit(finder: FaceFinder) -> None:
    """Close before the thread pools that MediaPipe dispatches on are shut down.

    ``concurrent.futures`` stops its workers through ``threading._register_atexit``, which runs
    before ``atexit``; hooks registered there later run earlier, so the finder closes first.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # pragma: no cover - CPython always has it (3.9+)
        atexit.register(finder.close)
    else:
        register(finder.close)


_shared: FaceFinder | None = None
_shared_lock = threading.Lock()


def shared_finder() -> FaceFinder:
    """A process-wide FaceFinder, created on first use and closed at interpreter exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FaceFinder()
            _close_at_exit(_shared)
        return _shared


def find_face(
    rgb: U8,
    *,
    mm_per_px: float | None = None,
    finder: FaceFinder | None = None,
    side_view: bool = False,
) -> Face:
    """The face to measure in ``rgb`` (``side_view``: a three-quarter view, whose scale comes
    from the nearer iris).

    Rule for several faces: when the second-largest face is at least ``SIMILAR_FACE_RATIO`` as
    wide as the largest, it is unclear whose skin to measure and the photo is refused with
    ``multiple_faces``; otherwise the largest face is measured and the others are counted
    (the quality gate turns that count into a ``multiple_faces`` warning).
    """
    finder = finder or shared_finder()
    small = detection_copy(rgb)
    faces, detector = finder.find_all(rgb, small=small)
    if not faces:
        if finder.upright_turn(small):
            raise NoFace(
                "No face was found in this photo as it is, but one shows when it is turned. "
                "Please check that the photo is the right way up and upload it again."
            )
        raise NoFace(
            "No face was found in this photo. Please take a photo of the face from the front, "
            "well lit and filling most of the frame."
        )
    if len(faces) > 1 and _width(faces[1].points) >= SIMILAR_FACE_RATIO * _width(faces[0].points):
        raise MultipleFaces(
            f"{len(faces)} faces of similar size were found in this photo. Please upload a photo "
            "showing only the patient's face."
        )
    points, pose, expression, depth = faces[0]
    centre = points.mean(0) * _detection_scale(rgb)
    if abs(pose.roll) < SIDEWAYS_ROLL_DEG and not finder.follows_turns(small, pose.roll, centre):
        if abs(pose.yaw) >= MAX_YAW_DEG:  # refused by the gate either way: say both
            raise ExtremePose(
                f"The face could not be placed reliably: the head is turned far from the camera "
                f"({abs(pose.yaw):.0f}°), or the photo is upside down. Please take the photo "
                "facing the camera, the right way up."
            )
        raise ExtremePose(
            "The face could not be placed reliably: the photo may be upside down. Please check "
            "that it is the right way up and upload it again."
        )
    iris = iris_diameter_px(points, nearer=side_view)
    if mm_per_px is not None:
        scale, source = float(mm_per_px), "given"
    else:
        scale, source = IRIS_DIAMETER_MM / max(iris, 1e-6), "iris"
    return Face(
        points=points.astype(np.float32),
        pose=pose,
        iris_diameter_px=iris,
        mm_per_px=scale,
        scale_source=source,
        other_faces=len(faces) - 1,
        detector=detector,
        expression=dict(expression),
        depth=depth,
    )
