"""The message catalogue's checks: which message ids the code uses, and which lack English.

Sources are the templates (``_("…")``, ``ngettext(s, p, n)``), the web code
(``gettext(request, "…")``, ``ngettext(request, s, p, n)``, ``N_("…")``) and the records, web
and demo code that speaks through ``records.messages`` (``msg("…")``, ``nmsg(s, p, n)``,
``N_("…")``). Run ``python -m web.catalogue [files…]`` to print the missing entries as
``.po`` text, ready to translate.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, cast

from babel.messages.catalog import Catalog

from .i18n import LOCALE_DIR, read_catalog

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = ROOT / "web" / "templates"
# Python packages whose user-facing text must be translated (migrations say nothing to people);
# the command line's demo raises the records' errors too.
PYTHON_DIRS = (ROOT / "web", ROOT / "records", ROOT / "telemed" / "demo")
_SKIPPED = ("migrations",)

TEMPLATE_KEYWORDS: Mapping[str, object] = {"_": None, "gettext": None, "ngettext": (1, 2)}
PYTHON_KEYWORDS: Mapping[str, object] = {
    "N_": None,
    "msg": None,
    "nmsg": (1, 2),
    "gettext": (2,),
    "ngettext": (2, 3),
}
_PLACEHOLDER = re.compile(r"%\((\w+)\)")


@dataclass(frozen=True, slots=True)
class Found:
    """One translatable message in a source file."""

    line: int
    msgid: str
    plural: bool


def message_sources() -> list[Path]:
    """Every template and module whose strings must be translated."""
    modules = [
        path
        for directory in PYTHON_DIRS
        for path in sorted(directory.rglob("*.py"))
        if not any(part in _SKIPPED for part in path.relative_to(directory).parts)
    ]
    return sorted(TEMPLATE_DIR.rglob("*.html")) + modules


def extract_messages(path: Path) -> list[Found]:
    """Every literal translatable message in a template or module, with its line."""
    from babel.messages.extract import extract_from_file
    from jinja2.ext import babel_extract

    if path.suffix == ".py":
        found = extract_from_file("python", path, keywords=PYTHON_KEYWORDS)  # type: ignore[arg-type]
    else:
        found = extract_from_file(
            cast(Any, babel_extract),
            path,
            keywords=TEMPLATE_KEYWORDS,  # type: ignore[arg-type]
            options={"trim_blocks": "true", "lstrip_blocks": "true"},
        )
    out: list[Found] = []
    for lineno, message, _comments, _context in found:
        ids = message if isinstance(message, tuple) else (message,)
        if ids and isinstance(ids[0], str) and ids[0]:
            out.append(Found(lineno, ids[0], plural=len(ids) > 1))
    return out


def missing_translations(path: Path, lang: str = "en", directory: Path = LOCALE_DIR) -> list[str]:
    """Message ids used in a file that the merged catalog does not translate (plurals as such)."""
    catalog = read_catalog(directory, lang)
    missing: list[str] = []
    for found in extract_messages(path):
        entry = catalog.get(found.msgid)
        translated = entry is not None and (entry.pluralizable or not found.plural)
        if not translated and found.msgid not in missing:
            missing.append(found.msgid)
    return missing


def _texts(value: object) -> list[str]:
    """The message ids or translations of an entry, singular or plural alike."""
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def placeholder_mismatches(lang: str = "en", directory: Path = LOCALE_DIR) -> list[str]:
    """Translations that use a ``%(name)`` their message id does not give (a crash when shown)."""
    bad: list[str] = []
    for entry in read_catalog(directory, lang):
        ids = _texts(entry.id)
        given = {name for text in ids for name in _PLACEHOLDER.findall(text)}
        if entry.pluralizable:
            given.add("num")
        used = {name for text in _texts(entry.string) for name in _PLACEHOLDER.findall(text)}
        if used - given:
            bad.append(ids[0])
    return bad


def main() -> None:
    """Print, as .po entries, every message id still lacking an English translation."""
    from babel.messages.pofile import write_po

    wanted = [Path(p) for p in sys.argv[1:]] or message_sources()
    out = Catalog(locale="en")
    for path in wanted:
        plurals = {f.msgid for f in extract_messages(path) if f.plural}
        for msgid in missing_translations(path):
            out.add((msgid, msgid) if msgid in plurals else msgid, "", locations=[(str(path), 0)])
    buf = BytesIO()
    write_po(buf, out, omit_header=True, width=100)
    sys.stdout.write(buf.getvalue().decode("utf-8"))


if __name__ == "__main__":
    main()
