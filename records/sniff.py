"""What a file is, decided from its first bytes against an allowlist, never from its name."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from .errors import Invalid
from .messages import N_, Message, msg

# Enough for every signature below and a fair sample of a text file.
HEAD_SIZE = 4096

ACCEPTED = N_("PDF, ảnh (JPEG, PNG, GIF, WebP), DICOM, video (MP4, WebM) và văn bản thuần")
UNSUPPORTED = msg(
    "Định dạng tệp không được hỗ trợ. Chấp nhận: %(accepted)s", accepted=msg(ACCEPTED)
)
EXECUTABLE = msg("Không được tải lên tệp chương trình hoặc tập lệnh (exe, ELF, script…)")

_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE / DOS
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O 32/64, both byte orders
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal / Java class
    b"\x00asm",  # WebAssembly
)
_MARKUP = ("<!doctype", "<html", "<head", "<body", "<script", "<svg", "<?xml", "<iframe")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif"}
# Text may hold tabs, line breaks and form feeds; any other control character means binary.
_CONTROL = {chr(c) for c in range(32)} - {"\t", "\n", "\r", "\f"} | {"\x7f"}


@dataclass(frozen=True, slots=True)
class Sniffed:
    """An accepted file type: its MIME type, a short label and the usual extension."""

    content_type: str
    label: str
    extension: str
    # Other extensions people give this type, kept when a name already ends in one.
    aliases: tuple[str, ...] = ()

    @property
    def extensions(self) -> tuple[str, ...]:
        """Every extension a name of this type may keep, the usual one first."""
        return (self.extension, *self.aliases)

    @property
    def is_image(self) -> bool:
        """A picture browsers show inline."""
        return self.content_type.startswith("image/")

    @property
    def is_video(self) -> bool:
        """A video file."""
        return self.content_type.startswith("video/")

    @property
    def is_dicom(self) -> bool:
        """A DICOM Part 10 file."""
        return self.content_type == DICOM.content_type


PDF = Sniffed("application/pdf", "PDF", ".pdf")
PNG = Sniffed("image/png", "PNG", ".png")
JPEG = Sniffed("image/jpeg", "JPEG", ".jpg", (".jpeg", ".jpe"))
GIF = Sniffed("image/gif", "GIF", ".gif")
WEBP = Sniffed("image/webp", "WebP", ".webp")
DICOM = Sniffed("application/dicom", "DICOM", ".dcm", (".dicom",))
MP4 = Sniffed("video/mp4", "MP4", ".mp4", (".m4v",))
WEBM = Sniffed("video/webm", "WebM", ".webm")
TEXT = Sniffed("text/plain; charset=utf-8", N_("văn bản"), ".txt")


ALL = (PDF, PNG, JPEG, GIF, WEBP, DICOM, MP4, WEBM, TEXT)
BY_CONTENT_TYPE = {t.content_type: t for t in ALL}


def _refuse(message: Message) -> Invalid:
    return Invalid(message, fields={"file": message})


def _text(head: bytes) -> Sniffed | None:
    body = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    try:
        # Not final: the head may end in the middle of a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return None
    if any(ch in _CONTROL for ch in text):
        return None
    start = text.lstrip().lower()
    if start.startswith(("#!", "@echo")):
        raise _refuse(EXECUTABLE)
    if start.startswith(_MARKUP):
        raise _refuse(
            msg("Không nhận tệp HTML, SVG hoặc XML. Hãy lưu tài liệu dưới dạng PDF rồi tải lên")
        )
    return TEXT


def sniff(head: bytes) -> Sniffed:
    """The type of a file from its first bytes; Invalid (Vietnamese) for anything not allowed."""
    if not head:
        raise _refuse(msg("Tệp rỗng, không có nội dung"))
    # First: a DICOM preamble can carry an executable header and make the file both at once.
    if head.startswith(_EXECUTABLE_MAGIC):
        raise _refuse(EXECUTABLE)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return DICOM
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            raise _refuse(
                msg("Ảnh HEIC/AVIF chưa được hỗ trợ. Hãy chuyển ảnh sang JPEG rồi tải lên")
            )
        if brand.startswith(b"M4A") or brand.startswith(b"M4B"):
            raise _refuse(UNSUPPORTED)
        return MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        if b"webm" in head[:64]:
            return WEBM
        raise _refuse(UNSUPPORTED)
    if head.startswith(b"PK\x03\x04"):
        raise _refuse(
            msg("Không nhận tệp nén hoặc tài liệu Word/Excel. Hãy lưu dưới dạng PDF rồi tải lên")
        )
    found = _text(head)
    if found is not None:
        return found
    raise _refuse(UNSUPPORTED)
