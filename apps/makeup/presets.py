"""Named makeup looks, defined as data: the colours a makeup artist would pick, with how strongly each is worn.

Colours are sRGB hex as they appear *on skin* of the reference tone `PRESET_SKIN` (a light-medium
complexion), which is how swatches are photographed. Eyeshadow and blush are stored as their change from
that skin, so on a deeper or lighter complexion they become the same shade of colour on that skin (see
lite.py), while lipstick, liner and brow colours are used as they are. Presets keep the wearer's own skin
tone: their foundation only evens it out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.color import hex_to_lab

from .look import Look
from .regions import REGIONS, SHADOW_BANDS

#: The skin the preset swatches were "photographed" on (light-medium, neutral-warm).
PRESET_SKIN = "#E0B49C"


@dataclass(frozen=True)
class Preset:
    title: str
    lips: str  # lipstick
    lid: str  # eyeshadow at the lash line
    crease: str  # eyeshadow at the crease
    liner: str
    blush: str
    brows: str
    #: How strongly each region is worn, 0–1 (multiplies the user's strength slider).
    intensity: dict[str, float]


PRESETS: dict[str, Preset] = {
    "natural": Preset("Natural: rosy balm, soft brown lid, barely-there liner", lips="#B8706C", lid="#C29A86",
                      crease="#A98170", liner="#4A3228", blush="#DC9E8E", brows="#5A4034",
                      intensity={"lips": 0.55, "eyeshadow": 0.5, "eyeliner": 0.35, "blush": 0.45, "brows": 0.35,
                                 "foundation": 0.6}),
    "classic_red": Preset("Classic red: blue-red lipstick, champagne lid, black winged liner", lips="#B0122E",
                          lid="#CDA48C", crease="#8E6450", liner="#141010", blush="#D98A80", brows="#3E2C24",
                          intensity={"lips": 1.0, "eyeshadow": 0.6, "eyeliner": 0.9, "blush": 0.35, "brows": 0.5,
                                     "foundation": 0.8}),
    "smoky": Preset("Smoky: charcoal lid fading up to taupe, black liner, muted rose lips", lips="#A46A66",
                    lid="#3A3034", crease="#75666A", liner="#0E0C0E", blush="#C98B80", brows="#2E2420",
                    intensity={"lips": 0.6, "eyeshadow": 1.0, "eyeliner": 1.0, "blush": 0.3, "brows": 0.6,
                               "foundation": 0.8}),
    "coral": Preset("Coral: warm coral lips and cheeks, apricot lid", lips="#EE604E", lid="#E8A07A",
                    crease="#C7785A", liner="#3C2A22", blush="#F08A70",  brows="#5A4034",
                    intensity={"lips": 0.9, "eyeshadow": 0.6, "eyeliner": 0.5, "blush": 0.6, "brows": 0.4,
                               "foundation": 0.6}),
    "berry": Preset("Berry: deep berry lips, plum lid, rose blush", lips="#7A1E3E", lid="#9A6078",
                    crease="#6E3C54", liner="#1E1218", blush="#C8707E", brows="#3A2A26",
                    intensity={"lips": 0.95, "eyeshadow": 0.7, "eyeliner": 0.8, "blush": 0.5, "brows": 0.5,
                               "foundation": 0.8}),
    "nude": Preset("Nude: beige-pink lips, sand lid, brown liner", lips="#C08A7A", lid="#C8A490",
                   crease="#A88470", liner="#3C2C26", blush="#D8A090", brows="#4A3A30",
                   intensity={"lips": 0.7, "eyeshadow": 0.5, "eyeliner": 0.5, "blush": 0.35, "brows": 0.4,
                              "foundation": 0.6}),
}  # fmt: skip


def preset_look(name: str) -> Look:
    """The `Look` of a named preset (raises KeyError naming the known presets)."""
    if name not in PRESETS:
        raise KeyError(f"Unknown preset '{name}'. Known presets: {', '.join(PRESETS)}")
    p = PRESETS[name]
    skin = hex_to_lab(PRESET_SKIN)
    # The gradient runs lash line → crease in SHADOW_BANDS steps, like one measured from a photo.
    lid, crease = hex_to_lab(p.lid), hex_to_lab(p.crease)
    shadow = np.stack([lid + (crease - lid) * t for t in np.linspace(0.0, 1.0, SHADOW_BANDS)]) - skin
    blush = hex_to_lab(p.blush) - skin
    intensity = {k: float(p.intensity.get(k, 1.0)) for k in REGIONS}
    targets = {"lips": hex_to_lab(p.lips), "eyeshadow": (lid + crease) / 2, "cheeks": hex_to_lab(p.blush)}
    return Look(name=name, skin=skin, lips=hex_to_lab(p.lips), eyeshadow=shadow, eyeliner=hex_to_lab(p.liner),
                blush=blush, brows=hex_to_lab(p.brows), shift_tone=False, intensity=intensity, targets=targets)
