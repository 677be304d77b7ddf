"""Rendering images in worker processes with memory and time limits (see ``pool``)."""

from .jobs import DEFAULT_MAX_PIXELS, PREVIEW_SIZE, DicomPreview, ImageThumbnail, Job, Rendered
from .pool import (
    PreviewRefused,
    RenderBusy,
    Renderer,
    RenderError,
    RenderFailed,
    RenderLimits,
    RenderStats,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "PREVIEW_SIZE",
    "DicomPreview",
    "ImageThumbnail",
    "Job",
    "PreviewRefused",
    "RenderBusy",
    "RenderError",
    "RenderFailed",
    "RenderLimits",
    "RenderStats",
    "Rendered",
    "Renderer",
]
