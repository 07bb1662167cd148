"""The user's selfies: read, the face found, turned-away faces refused, and all of them checked to be one person.

Every selfie is embedded with the identity embedder (dlib's ResNet face descriptor by default, "same person" below
0.6; studio.preprocess.identity), and a selfie farther than that from the main one is refused with its name: an
avatar made from two people is neither of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.errors import InputError, NoFaceFound
from studio.imaging import load_image
from studio.preprocess.face import Face
from studio.preprocess.identity import IdentityEmbedding

#: Beyond this head turn the far eye is hidden: an avatar needs both eyes (MediaPipe's frontal limit, and dlib's
#: 5-point alignment guesses the hidden eye beyond ~45°).
MAX_YAW_DEG = 40.0
MORE_SELFIES = 3


@dataclass
class Selfie:
    rgb: np.ndarray
    face: Face  # the largest face
    others: list[Face]  # every other face in the photo
    name: str  # how messages name it: "your selfie (me.jpg)", "selfie 3 (b.jpg)"
    identity: IdentityEmbedding
    notes: list[str] = field(default_factory=list)


def describe(value, what: str) -> str:
    return f"{what} ({Path(value).name})" if isinstance(value, (str, Path)) else what


def read_selfie(ctx, value, what: str) -> Selfie:
    """One selfie: the largest face, refused when missing or turned sideways, and its identity embedding."""
    name = describe(value, what)
    rgb = load_image(value, what=what, max_pixels=ctx.settings.max_pixels)
    faces = ctx.preprocess.faces(rgb)
    if not faces:
        raise NoFaceFound(name, "Use a selfie where your face is clearly visible and roughly frontal, at least "
                                "~64 px across.")  # fmt: skip
    face = faces[0]
    if abs(face.yaw_deg) > MAX_YAW_DEG:
        raise InputError(f"The face in {name} is turned about {abs(face.yaw_deg):.0f}° (a profile): an avatar needs "
                         "both eyes. Use a selfie facing the camera.")  # fmt: skip
    notes = []
    if len(faces) > 1:
        notes.append(f"{name[0].upper() + name[1:]} shows {len(faces)} faces: the largest was used.")
    return Selfie(rgb, face, faces[1:], name, ctx.preprocess.identity(rgb, face), notes)


def read_selfies(ctx, source, more) -> list[Selfie]:
    """The main selfie and up to three more, refused when any shows a different person (naming which)."""
    more = [m for m in (more or ()) if m is not None]
    if len(more) > MORE_SELFIES:
        raise InputError(f"Give at most {MORE_SELFIES} more selfies besides the main one; got {len(more)}.")
    selfies = [read_selfie(ctx, source, "your selfie")]
    selfies += [read_selfie(ctx, value, f"selfie {i}") for i, value in enumerate(more, start=2)]
    main = selfies[0]
    for other in selfies[1:]:
        same = main.identity.same_person(other.identity)
        if same is False:
            distance = main.identity.distance(other.identity)
            raise InputError(
                f"{other.name[0].upper() + other.name[1:]} shows a different person than {main.name}: identity "
                f"distance {distance:.2f} ≥ {main.identity.same_person_below} ({main.identity.embedder}; below it "
                "is the same person). Use selfies of one person only."
            )
        if same is None:
            main.notes.append(f"The selfies could not be checked to show one person: the '{main.identity.embedder}' "
                              "embedder has no calibrated threshold (install dlib for that check).")  # fmt: skip
            break
    return selfies
