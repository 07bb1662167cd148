"""Preprocess inspector: shows everything the shared preprocessing sees in one photo.

Face landmarks and every region mask, the body pose and its OpenPose-style skeleton, the person mask, the
clothing region, and the ControlNet control images, each with its timing. It is the page to open when an
app's result looks wrong: most failures start with a mask in the wrong place.
"""

from __future__ import annotations

from studio.errors import InputError, NoPersonFound, PreprocessorUnavailable
from studio.imaging import fit_within, load_image
from studio.preprocess.draw import draw_face_labels, draw_landmarks, draw_regions, mask_on_image
from studio.preprocess.regions import PAIRED
from studio.schema import App, ChoiceParam, ImageParam, Preview, Provenance, Result, SliderParam, Stopwatch, ToggleParam

#: Photos are inspected at most this size: a dozen full-size overlays of a 49 MP photo would take gigabytes.
INSPECT_MAX_SIDE = 2048
#: The region masks shown one by one (left and right parts merged, as a makeup artist thinks of them).
SHOWN_REGIONS = ("lips", "inner_mouth", "eyes", "irises", "brows", "eyeshadow", "eyeliner", "cheeks", "skin", "head")


def run(ctx, image, max_faces: int, clothing: str, with_controls: bool):
    watch = Stopwatch()
    pre = ctx.preprocess
    with watch("load"):
        photo = load_image(image, what="photo", max_pixels=ctx.settings.max_pixels)
        rgb = fit_within(photo, INSPECT_MAX_SIDE)
    size_note = ([f"The photo is {photo.shape[1]}×{photo.shape[0]}; it was inspected at {rgb.shape[1]}×{rgb.shape[0]} "
                  "(every overlay is a full image; the detectors work at lower resolution anyway)."]
                 if rgb.shape != photo.shape else [])  # fmt: skip
    del photo
    with watch("faces"):
        faces = pre.faces(rgb, max_faces=max_faces)
    with watch("regions"):
        for face in faces:
            face.regions  # noqa: B018 -- computed once and cached on the face
    landmarks = draw_landmarks(rgb, faces)
    # The face tags go on last, so no region tint or outline crosses them.
    overlay = draw_face_labels(draw_regions(draw_landmarks(rgb, faces, labels=False), faces), faces) if faces else rgb
    yield Preview(overlay, 1, 3, "faces")

    with watch("pose"):
        pose = pre.pose(rgb)
    with watch("person_mask"):
        person = pre.person_mask(rgb)
    if not faces and pose is None:
        raise InputError(
            "No face and no person found in the photo. The inspector needs a visible face or body; "
            "try a brighter, sharper photo where the subject faces the camera."
        )
    notes: list[str] = size_note + [n for face in faces for n in face.notes]
    extras = {"landmarks": landmarks, "regions": overlay}
    for name in SHOWN_REGIONS:
        parts = PAIRED.get(name, (name,))
        union = sum(face.regions.full(p).astype(int) for face in faces for p in parts) if faces else 0
        if faces:
            extras[f"mask: {name}"] = mask_on_image(rgb, (union > 0).astype("uint8") * 255)
    if not faces:
        notes.append("No face found: face regions are not shown.")

    if pose is not None:
        from studio.preprocess.pose import render_openpose

        with watch("skeleton"):
            skeleton = render_openpose(pose)
        extras["pose skeleton"] = skeleton
        extras["pose on photo"] = (0.5 * rgb + 0.5 * skeleton).astype("uint8")
    else:
        notes.append("No body pose found: skeleton and clothing region are not shown.")
    extras["person mask"] = mask_on_image(rgb, person, color=(60, 200, 255))
    if pose is not None:
        with watch("clothing"):
            try:
                extras[f"clothing: {clothing}"] = mask_on_image(rgb, pre.clothing_region(rgb, clothing), (255, 150, 0))
            except (InputError, NoPersonFound) as exc:
                notes.append(f"Clothing region ({clothing}): {exc}")
    yield Preview(overlay, 2, 3, "body")

    available_controls: dict[str, str] = {}
    if with_controls:
        from studio.preprocess.control import KINDS

        for kind in KINDS:
            # Weight-needing annotators fail fast with the files they need; that message is shown as-is.
            try:
                with watch(f"control:{kind}"):
                    extras[f"control: {kind}"] = pre.control(rgb, kind)
                available_controls[kind] = "available"
            except (InputError, PreprocessorUnavailable) as exc:
                watch.timings_ms.pop(f"control:{kind}", None)  # a refusal is not a timing
                available_controls[kind] = str(exc)

    provenance = Provenance(
        app="preprocess",
        tier="lite",
        models=["mediapipe/face_mesh(refined, 478)", "mediapipe/pose(complexity=1)", "mediapipe/selfie_segmentation"],
        device="cpu",
        timings_ms={k: round(v, 2) for k, v in watch.timings_ms.items()},
        notes=notes,
    )
    info = {
        "image_size": {"width": int(rgb.shape[1]), "height": int(rgb.shape[0])},
        "faces": [face.to_dict() for face in faces],
        "pose": None if pose is None else pose.to_dict(),
        "person_fraction": round(float((person > 0.5).mean()), 4),
        "controls": available_controls,
    }
    yield Result(image=overlay, provenance=provenance, before=rgb, extras=extras, info=info)


def examples(settings) -> list[dict]:
    from studio.examples import people

    return [{"image": photo} for photo in people(settings, "any")]  # different people


APP = App(
    id="preprocess",
    title="Preprocess inspector",
    description=(
        "Upload a photo to see what every app's shared preprocessing finds: 478 face landmarks and the region "
        "masks (lips, eyes, irises, brows, eyeshadow, eyeliner, cheeks, skin, head), the 33-point body pose as "
        "an OpenPose skeleton, the person mask, the clothing region and the ControlNet control images — each "
        "with its timing. Runs offline on the CPU."
    ),
    params=(
        ImageParam("image", "Photo", help="A photo with a face and/or a person (JPEG, PNG, WebP).", webcam=True),
        SliderParam("max_faces", "Max faces", help="Faces beyond this many are ignored (largest first).",
                    default=4, minimum=1, maximum=8, step=1, integer=True),  # fmt: skip
        ChoiceParam("clothing", "Clothing region", help="Which garment area to outline.", default="upper",
                    choices=("upper", "lower", "dress")),  # fmt: skip
        ToggleParam("with_controls", "Control images", help="Also render Canny and MediaPipe-face control images.",
                    default=True),  # fmt: skip
    ),
    run=run,
    examples=examples,
)
