"""The demo world: the referral line of Bình Phước, its people, patients, case files and sessions.

Everything is created through the services, as the people themselves would (the doctor opens the
case and uploads the files, the coordinator schedules, the chair signs the minutes), so the
history, the access rules and the audit chain are exactly those of real use. The attachments
are made at seed time: the CT is pydicom's bundled sample, the lab report and the ECG photo are
drawn with Pillow.

- ``world``: who and what there is (facilities, people, patients, case files, minutes);
- ``files``: the attachments drawn at seed time;
- ``seed``: ``seed_demo`` and the scenarios that bring the world to life.

It belongs to the command line (``telemed demo``), not to the records: nothing in the domain
depends on it.
"""

from __future__ import annotations

from .files import ct_dicom, ecg_png, lab_report_pdf
from .seed import seed_demo
from .world import DemoAccount, DemoSummary

__all__ = ["DemoAccount", "DemoSummary", "ct_dicom", "ecg_png", "lab_report_pdf", "seed_demo"]
