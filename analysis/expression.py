"""A change of facial expression between two photos, read from the landmarker's blendshapes.

A smile deepens the nasolabial folds, bunches the cheeks and narrows the eyes; a frown draws
the glabellar lines; raised brows draw the forehead's. Registration lines the skin up, but it
cannot undo a fold the expression made: Obama's 2010 portrait (smile 0.15) against his 2012
one (smile 0.95) reads eight of the smile's regions 10-26 severity points higher. The comparison
still reports those changes; this module says where the expression differs enough that a
change may be the expression's rather than the skin's.

MediaPipe's face landmarker scores 52 movements (ARKit's blendshape names, 0 to 1) from its
mesh. They are grouped into five movements (``GROUPS``, each the largest of its scores, both
sides together: an expression is nearly always made with both sides, and the model's left and
right were not checked against the subject's), and each region is tied to the movements that
fold its skin (``REGION_GROUPS``). A region's expression change is the largest change of its
movements between the photos; at ``EXPRESSION_CHANGE`` or more it is flagged.

Measured (``docs/experiments.md``, "A change of expression"): over 30 nuisance-only pairs of ten
shared faces (light, white balance, framing, JPEG) and 20 synthetic head turns of 5 and 10
degrees, no movement changed by more than 0.39; Obama's smile changed by 0.81,
his narrowed eyes by 0.46. Biden 2013 against 2021, smiling in both, changed by 0.13 at most.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analysis.quality import in_words
from analysis.regions import REGIONS

# movements, each the largest of these blendshape scores (both sides)
GROUPS: dict[str, tuple[str, ...]] = {
    "smile": ("mouthSmileLeft", "mouthSmileRight", "mouthUpperUpLeft", "mouthUpperUpRight"),
    "eyes_narrowed": (
        "eyeSquintLeft",
        "eyeSquintRight",
        "eyeBlinkLeft",
        "eyeBlinkRight",
        "cheekSquintLeft",
        "cheekSquintRight",
    ),
    "brows_lowered": ("browDownLeft", "browDownRight"),
    "brows_raised": ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"),
    "mouth": (
        "jawOpen",
        "mouthClose",
        "mouthPucker",
        "mouthFunnel",
        "mouthLeft",
        "mouthRight",
        "mouthPressLeft",
        "mouthPressRight",
        "mouthRollLower",
        "mouthRollUpper",
        "mouthShrugLower",
        "mouthShrugUpper",
        "mouthStretchLeft",
        "mouthStretchRight",
        "mouthFrownLeft",
        "mouthFrownRight",
        "mouthDimpleLeft",
        "mouthDimpleRight",
    ),
}
# plain words for a clinic assistant
GROUP_WORDS = {
    "smile": "smile",
    "eyes_narrowed": "narrowed or closed eyes",
    "brows_lowered": "frown (lowered brows)",
    "brows_raised": "raised brows",
    "mouth": "mouth movement",
}
# the movements that fold each region's skin (left and right regions alike)
REGION_GROUPS: dict[str, tuple[str, ...]] = {
    "forehead": ("brows_raised", "brows_lowered"),
    "glabella": ("brows_lowered", "brows_raised"),
    "crows_feet": ("eyes_narrowed", "smile"),
    "under_eye": ("eyes_narrowed", "smile"),
    "cheek": ("smile", "mouth"),
    "nasolabial": ("smile", "mouth"),
    "upper_lip": ("mouth", "smile"),
    "marionette": ("mouth", "smile"),
    "chin": ("mouth",),
    "full_face": tuple(GROUPS),
}
EXPRESSION_CHANGE = 0.5  # a movement's score changed this much (of 0-1) flags its regions


def movements(blendshapes: Mapping[str, float]) -> dict[str, float]:
    """The five movements' scores (0-1) of one face; empty without blendshapes."""
    if not blendshapes:
        return {}
    return {g: max(float(blendshapes.get(k, 0.0)) for k in keys) for g, keys in GROUPS.items()}


def region_groups(region: str) -> tuple[str, ...]:
    """The movements that fold ``region``'s skin (``forehead``, ``cheek_left``, ...)."""
    base = region.removesuffix("_left").removesuffix("_right")
    if region not in REGIONS or base not in REGION_GROUPS:
        raise ValueError(f"unknown region {region!r}")
    return REGION_GROUPS[base]


@dataclass(frozen=True)
class ExpressionChange:
    """Both faces' movements and the regions whose movements changed by ``threshold`` or more."""

    before: dict[str, float]
    after: dict[str, float]
    threshold: float = EXPRESSION_CHANGE
    present: tuple[str, ...] = REGIONS  # the regions the comparison has (a side view has fewer)

    def change(self, group: str) -> float:
        return self.after[group] - self.before[group]

    @property
    def changed(self) -> tuple[str, ...]:
        """Movements that changed by ``threshold`` or more, the largest change first."""
        moved = [g for g in GROUPS if abs(self.change(g)) >= self.threshold]
        return tuple(sorted(moved, key=lambda g: -abs(self.change(g))))

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions (of ``present``, in ``REGIONS`` order) one of whose movements changed."""
        moved = set(self.changed)
        return tuple(r for r in REGIONS if r in self.present and moved & set(region_groups(r)))

    def issue(self) -> dict[str, str] | None:
        """The warning for the comparison's ``quality.issues``; None when nothing changed."""
        if not self.changed:
            return None
        what = ", ".join(
            f"{GROUP_WORDS[g]} {self.before[g]:.2f} -> {self.after[g]:.2f}" for g in self.changed
        )
        where = in_words([r for r in self.regions if r != "full_face"])
        return {
            "code": "expression_changed",
            "severity": "warning",
            "message": (
                f"The facial expression differs between the two photos ({what}, on a scale of "
                f"0 to 1). Lines in these regions fold with it: {where}. Their changes may come "
                "from the expression rather than the skin. For a reliable result, take both "
                "photos with a relaxed, neutral face."
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": {g: round(v, 3) for g, v in self.before.items()},
            "after": {g: round(v, 3) for g, v in self.after.items()},
            "change": {g: round(self.change(g), 3) for g in GROUPS},
            "threshold": self.threshold,
            "regions": list(self.regions),
        }


def expression_change(
    before: Mapping[str, float],
    after: Mapping[str, float],
    present: tuple[str, ...] = REGIONS,
) -> ExpressionChange | None:
    """The change of expression between two faces' blendshapes, for the regions ``present``;
    None when either face has none (landmarks given by the caller, not found by the
    landmarker)."""
    a, b = movements(before), movements(after)
    if not a or not b:
        return None
    return ExpressionChange(a, b, present=tuple(present))
