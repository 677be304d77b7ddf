"""FHIR export: a consultation's record about one case as a FHIR document Bundle."""

from .bundle import consultation_bundle

__all__ = ["consultation_bundle"]
