"""Rendering images in worker processes with memory and time limits (see ``pool``).

The jobs that decode (``records.render.jobs``) are imported where they are built; this package
itself loads no decoder, so the server starts without them and they live in the workers.
"""

from .base import DEFAULT_MAX_PIXELS, PREVIEW_SIZE, Job, Rendered
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
