"""The avatar presets: each is a framing, a background, a light and a look, plus the words the diffusion tiers use.

Framing numbers: the head (crown to chin) as a share of the frame's height and the eye line's height from the
top. Portrait photographers frame a head-and-shoulders with the eyes about a third of the way down and the head
about half the height; the passport numbers follow the rule in framing.py; LinkedIn's profile photo is square and
at least 400 px (docs/round2.md A3: 400×400).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    id: str
    label: str
    help: str
    size: tuple[int, int] | None  # (width, height) of the output; None keeps the photo's own frame
    head_share: float = 0.5
    eyes_from_top: float = 0.38
    level: float = 0.0  # fraction of the head's roll straightened
    background: str = "studio"  # studio | flat | user_or_blur | keep
    backdrop: tuple[int, int, int] = (128, 128, 128)
    uses_user_background: bool = True
    relight: float = 0.0
    grade: tuple[float, float, float] = (0.0, 0.0, 1.0)  # contrast, warmth, saturation
    look: str | None = None  # painted | duotone
    prompt: str = ""


PRESETS: dict[str, Preset] = {p.id: p for p in (
    Preset("headshot", "Headshot", "Studio portrait: face-centred 4:5 framing, soft studio backdrop, gentle key "
           "light.", (800, 1000), 0.46, 0.36, 0.5, "studio", (112, 116, 122), True, 0.35, (0.12, 2.0, 1.0),
           prompt="professional studio headshot photo, soft key light, neutral grey seamless backdrop, sharp focus, "
                  "natural skin texture, 85mm lens"),
    Preset("passport", "Passport", "Passport framing (US rule: head 50–69 % of the height, eyes level), plain light "
           "background, even light. Says what the photo cannot meet.", (600, 600), 0.60, 0.37, 1.0, "flat",
           (242, 242, 238), False, 0.0,
           prompt="passport photo, front view, neutral expression, mouth closed, eyes open, even lighting, plain "
                  "white background"),
    Preset("linkedin", "LinkedIn", "Square profile photo (800 px, LinkedIn asks for at least 400), head and shoulders "
           "on a cool studio backdrop or your background.", (800, 800), 0.44, 0.40, 0.5, "studio", (92, 110, 130),
           True, 0.3, (0.10, 0.0, 1.0),
           prompt="professional linkedin profile photo, business attire, friendly expression, soft studio light, "
                  "blue-grey backdrop"),
    Preset("social", "Social", "Square 1080 px for social media: your background, or the photo's own blurred like a "
           "wide-open lens, with a livelier grade.", (1080, 1080), 0.40, 0.42, 0.0, "user_or_blur", (0, 0, 0), True,
           0.2, (0.15, 3.0, 1.12),
           prompt="vibrant social media portrait photo, candid, shallow depth of field, bokeh background, golden "
                  "hour"),
    Preset("painted", "Painted portrait", "An oil-painted portrait on a warm dark ground.", (800, 1000), 0.46, 0.36,
           0.5, "studio", (70, 54, 42), False, 0.4, (0.0, 0.0, 1.0), "painted",
           prompt="oil painting portrait, classical, visible brushstrokes, warm dark background, rembrandt lighting"),
    Preset("duotone", "Duotone poster", "A two-colour screen-print poster: navy and coral on yellow.", (1000, 1000),
           0.48, 0.40, 0.5, "flat", (247, 204, 92), False, 0.0, (0.0, 0.0, 1.0), "duotone",
           prompt="duotone screen print poster portrait, navy and coral, flat yellow background, graphic design"),
    Preset("original", "Original", "Your photo's own framing and background (with a driver: just the photo moved).",
           None, background="keep", uses_user_background=True,
           prompt="portrait photo, natural light, sharp focus"),
)}  # fmt: skip

NEGATIVE_PROMPT = ("deformed face, distorted features, extra eyes, asymmetric eyes, blurry, lowres, watermark, text, "
                   "cropped head, duplicate person")  # fmt: skip
