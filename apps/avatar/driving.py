"""Driving the selfie with another face: a driver photo (still) or the webcam (live), through the puppet."""

from __future__ import annotations

import numpy as np

from studio.errors import InputError, NoFaceFound
from studio.imaging import fit_within, image_digest, input_key, load_image
from studio.live import face_tracker
from studio.preprocess.face import Face

from . import puppet
from .selfies import MAX_YAW_DEG, read_selfie

#: The webcam path animates the selfie at most this size (long side): what a 640×480 camera view shows.
LIVE_SIDE = 640
#: Resolution of the webcam warp's triangle raster (the map is upsampled bilinearly; see studio.mesh_warp).
LIVE_RASTER = 0.4


def read_driver(ctx, driver):
    """(driver RGB, its largest face) — refused when it has no face or shows a profile."""
    rgb = load_image(driver, what="driver photo", max_pixels=ctx.settings.max_pixels)
    faces = ctx.preprocess.faces(rgb)
    if not faces:
        raise NoFaceFound("the driver photo", "The driver's face gives the expression and head pose: use a photo "
                                              "where a face is clearly visible.")  # fmt: skip
    if abs(faces[0].yaw_deg) > MAX_YAW_DEG:
        raise InputError(f"The driver's face is turned about {abs(faces[0].yaw_deg):.0f}° (a profile): its expression "
                         "cannot be read. Use a driver facing the camera.")  # fmt: skip
    return rgb, faces[0]


def rig_for(ctx, rgb: np.ndarray, face: Face) -> puppet.Rig:
    return ctx.cache("avatar.rigs", 4).get_or_compute(image_digest(rgb), lambda: puppet.build_rig(rgb, face))


def move(ctx, main, drv_rgb, drv_face):
    """The main selfie moved by a driver photo: (image, the moved face, puppet details for the report)."""
    rig = rig_for(ctx, main.rgb, main.face)
    drive = puppet.still_drive(rig, drv_rgb, drv_face)
    moved, mesh = puppet.render(rig, drive, scale=1.0)
    details = {"driver_mouth": puppet.mouth_opening(drv_face.landmarks), "source_mouth": rig.mouth_open,
               "still": puppet.untouched(rig), "head_turn": puppet.angles_deg(drive.rotation),
               "turn_limited": drive.clamped}  # fmt: skip
    return moved, Face(mesh.astype(np.float32), main.rgb.shape[:2]), details


def live_frame(ctx, frame, source) -> np.ndarray:
    """The selfie moved by one webcam frame's face; the still selfie while no usable face is in view."""
    rgb = load_image(frame, what="webcam frame")
    if source is None:
        raise InputError("Upload your selfie first: the webcam's face moves it.")
    tracker = face_tracker(ctx, "avatar", max_faces=1)
    key = ("rig", _source_key(source))

    def build():
        main = read_selfie(ctx, fit_within(load_image(source, what="your selfie"), LIVE_SIDE), "your selfie")
        return puppet.build_rig(main.rgb, main.face)

    rig = tracker.remember(key, build)
    stream = ctx.shared("avatar.puppet_stream", puppet.PuppetStream)
    if stream.key != key:
        stream.reset(key)  # a new selfie: the next frames set a new neutral
    faces = tracker.faces(rgb)
    if not faces or abs(faces[0].yaw_deg) > MAX_YAW_DEG:
        return rig.image
    return stream.frame(rig, rgb, faces[0], scale=LIVE_RASTER)


def _source_key(source):
    """What identifies the selfie between frames: a file's path and date, or for an array (the Python API, the
    benchmark) its shape and a digest of every 8th row and column — hashing the whole photo on every webcam frame
    would cost more than the warp."""
    if isinstance(source, np.ndarray):
        return (source.shape, image_digest(np.ascontiguousarray(source[::8, ::8])))
    return input_key(source)


def tilted_astronaut() -> np.ndarray:
    """A driver the project makes itself: scikit-image's astronaut portrait with her head tilted 12° (roll)."""
    import cv2
    from skimage import data

    rgb = data.astronaut()
    m = cv2.getRotationMatrix2D((200.0, 120.0), 12.0, 1.0)
    return cv2.warpAffine(rgb, m, rgb.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
