"""De-identified copies of DICOM files, after DICOM PS3.15's Basic Application Level
Confidentiality Profile.

dicognito does the bulk of the profile: every person name, identifier, UID, date and time,
address and piece of equipment is replaced by a plausible value derived from the original and a
seed (so the files of one case keep agreeing with each other: one study UID, one patient ID),
and it records the method, and PatientIdentityRemoved when the file says its pixels carry no
text (BurnedInAnnotation NO). What it leaves, this module removes:
private attributes, overlays and curves (groups 50xx and 60xx), and the free-text attributes the
profile removes (comments, histories, alerts, descriptions of the patient). The pixels are kept
as they are, so text burned into them is not touched: ``burned_in`` flags the files that may
carry it. Runs in a render worker (``records.render.jobs``), never in the server.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pydicom
from dicognito.anonymizer import Anonymizer
from dicognito.unwantedelements import UnwantedElementsStripper
from pydicom.dataset import Dataset

# Attributes the Basic Profile removes (action X) that dicognito keeps: free text that may name
# the patient, their relatives or their history.
FREE_TEXT = (
    "AdditionalPatientHistory",
    "AdmittingDiagnosesDescription",
    "Allergies",
    "DerivationDescription",
    "EthnicGroup",
    "ImageComments",
    "InterpretationText",
    "MedicalAlerts",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientComments",
    "PatientMotherBirthName",
    "PatientState",
    "RequestedContrastAgent",
    "SpecialNeeds",
    "StudyComments",
    "TextComments",
    "TextString",
    "VisitComments",
)
# Images of these modalities are often annotated in their pixels (ultrasound, screenshots,
# photographs, scanned documents).
BURNED_IN_MODALITIES = frozenset({"US", "SC", "OT", "XC", "ES", "DOC", "SM", "GM"})
# Repeating groups of curves (50xx) and overlays (60xx): removed whole.
_REPEATING = (0x5000, 0x6000)


def burned_in(ds: Dataset) -> bool:
    """Whether the pixels may carry text that names the patient (flag it; it is not removed)."""
    said = str(ds.get("BurnedInAnnotation", "")).strip().upper()
    if said:
        return said == "YES"
    return str(ds.get("Modality", "")).strip().upper() in BURNED_IN_MODALITIES


def _repeating_groups(ds: Dataset) -> Iterable[pydicom.tag.BaseTag]:
    return [tag for tag in ds.keys() if tag.group & 0xFF00 in _REPEATING]


def deidentify(path: Path, *, seed: str) -> tuple[bytes, bool]:
    """The file de-identified (the same ``seed`` gives the same replacements), and whether its
    pixels may carry burned-in text. The original file is only read."""
    # Large values (the pixels) stay in the file until they are written out.
    ds = pydicom.dcmread(path, defer_size="256 KB")
    anonymizer = Anonymizer(seed=seed)
    anonymizer.add_element_handler(UnwantedElementsStripper(*FREE_TEXT))
    anonymizer.anonymize(ds)
    ds.remove_private_tags()
    for tag in _repeating_groups(ds):
        del ds[tag]
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue(), burned_in(ds)
