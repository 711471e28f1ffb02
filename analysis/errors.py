"""Stable error codes for photos that cannot be measured and pairs that cannot be compared.

Every failure of the pipeline on user input raises a subclass of :class:`AnalysisError` whose
``code`` is one of the fixed codes of DESIGN.md and whose ``message`` is written for a clinic
assistant, not for a programmer.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AnalysisError(Exception):
    """A photo (or a pair) that cannot be measured honestly.

    Attributes
    ----------
    code:
        Stable machine-readable code (``no_face``, ``too_blurry``...).
    message:
        One or two sentences a clinic assistant understands.
    photo:
        For comparisons: ``"before"`` or ``"after"`` when one photo is at fault, else ``None``.
    """

    code: ClassVar[str] = "analysis_error"

    def __init__(self, message: str, *, photo: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.photo = photo

    def for_photo(self, photo: str) -> AnalysisError:
        """Return a copy of this error naming the photo of a pair it came from."""
        return type(self)(self.message, photo=photo)

    def to_dict(self) -> dict[str, Any]:
        """The error body of DESIGN.md: ``{"error": {"code", "message"[, "photo"]}}``."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.photo is not None:
            body["photo"] = self.photo
        return {"error": body}


class UnreadableImage(AnalysisError):
    code = "unreadable_image"


class UnsupportedFormat(AnalysisError):
    code = "unsupported_format"


class ImageTooLarge(AnalysisError):
    code = "image_too_large"


class ImageTooSmall(AnalysisError):
    code = "image_too_small"


class NoFace(AnalysisError):
    code = "no_face"


class MultipleFaces(AnalysisError):
    code = "multiple_faces"


class FaceTooSmall(AnalysisError):
    code = "face_too_small"


class ExtremePose(AnalysisError):
    code = "extreme_pose"


class TooBlurry(AnalysisError):
    code = "too_blurry"


class BadExposure(AnalysisError):
    code = "bad_exposure"


class RegistrationFailed(AnalysisError):
    code = "registration_failed"


ERROR_TYPES: dict[str, type[AnalysisError]] = {
    cls.code: cls
    for cls in (
        UnreadableImage,
        UnsupportedFormat,
        ImageTooLarge,
        ImageTooSmall,
        NoFace,
        MultipleFaces,
        FaceTooSmall,
        ExtremePose,
        TooBlurry,
        BadExposure,
        RegistrationFailed,
    )
}
