"""Translations and local date formats of the pages.

Message ids are the Vietnamese source strings; English lives in ``web/locale/en/LC_MESSAGES``,
one ``.po`` file per area of the interface. Every ``.po`` file of a language is read and merged
when the application is built, and compiled in memory: no ``.mo`` files, no build step.
The language of a request comes from the ``lang`` cookie (set by the switch link), else the
configured default.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from io import BytesIO
from pathlib import Path

from aiohttp import web
from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from records.localtime import to_local
from records.messages import Message
from records.vocabulary import VOCABULARY, name_id

from .keys import config_key

SOURCE_LANG = "vi"
LANGUAGES: tuple[str, ...] = ("vi", "en")
# How each language names itself on the switch.
LANGUAGE_NAMES: Mapping[str, str] = {"vi": "Tiếng Việt", "en": "English"}
LANG_COOKIE = "lang"
LOCALE_DIR = Path(__file__).parent / "locale"

# Date patterns (CLDR syntax); Vietnamese writes day/month/year and a 24-hour clock.
_PATTERNS: Mapping[str, Mapping[str, str]] = {
    "vi": {
        "date": "dd/MM/yyyy",
        "time": "HH:mm",
        "datetime": "HH:mm dd/MM/yyyy",
        "long_date": "EEEE, dd/MM/yyyy",
        "long_datetime": "HH:mm, EEEE dd/MM/yyyy",
        "day_month": "dd/MM",
    },
    "en": {
        "date": "d MMM yyyy",
        "time": "HH:mm",
        "datetime": "d MMM yyyy, HH:mm",
        "long_date": "EEEE, d MMMM yyyy",
        "long_datetime": "EEEE, d MMMM yyyy, HH:mm",
        "day_month": "d MMM",
    },
}


def read_catalog(directory: Path, lang: str) -> Catalog:
    """Every ``*.po`` file of one language merged into one catalog (later files win)."""
    merged = Catalog(locale=lang, domain="messages")
    po_dir = directory / lang / "LC_MESSAGES"
    for path in sorted(po_dir.glob("*.po")) if po_dir.is_dir() else []:
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        for message in catalog:
            if not message.id or message.fuzzy or not message.string:
                continue
            if isinstance(message.string, tuple) and not all(message.string):
                continue
            merged[message.id] = message
    return merged


def compile_catalog(catalog: Catalog) -> _gettext.GNUTranslations:
    """A gettext translations object built from a catalog in memory."""
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


@dataclass(frozen=True)
class Translations:
    """The loaded translations of every supported language."""

    by_lang: Mapping[str, _gettext.NullTranslations]
    default_lang: str = SOURCE_LANG

    @classmethod
    def load(cls, directory: Path = LOCALE_DIR, default_lang: str = SOURCE_LANG) -> Translations:
        """Read the ``.po`` files of every language but the source one."""
        by_lang: dict[str, _gettext.NullTranslations] = {SOURCE_LANG: _gettext.NullTranslations()}
        for lang in LANGUAGES:
            if lang != SOURCE_LANG:
                by_lang[lang] = compile_catalog(read_catalog(directory, lang))
        if default_lang not in by_lang:
            default_lang = SOURCE_LANG
        return cls(by_lang=by_lang, default_lang=default_lang)

    def get(self, lang: str) -> _gettext.NullTranslations:
        """The translations of a language (the source language when unknown)."""
        return self.by_lang.get(lang) or self.by_lang[SOURCE_LANG]


translations_key = web.AppKey("translations", Translations)


def setup_i18n(app: web.Application, directory: Path = LOCALE_DIR) -> Translations:
    """Load the catalogs once, when the application is built."""
    default = app[config_key].default_locale if config_key in app else SOURCE_LANG
    loaded = Translations.load(directory, default_lang=default)
    app[translations_key] = loaded
    return loaded


def request_lang(request: web.Request) -> str:
    """The language of this request: the ``lang`` cookie if supported, else the default."""
    wanted = request.cookies.get(LANG_COOKIE, "")
    if wanted in LANGUAGES:
        return wanted
    loaded = request.config_dict.get(translations_key)
    return loaded.default_lang if loaded is not None else SOURCE_LANG


def _translations(request: web.Request) -> _gettext.NullTranslations:
    loaded = request.config_dict.get(translations_key)
    if loaded is None:
        return _gettext.NullTranslations()
    return loaded.get(request_lang(request))


def _format(text: str, variables: Mapping[str, object]) -> str:
    return text % variables if variables else text


def gettext(request: web.Request, message: str, **variables: object) -> str:
    """Translate a message for this request; ``%(name)s`` placeholders filled from keywords."""
    return _format(_translations(request).gettext(message), variables)


def ngettext(request: web.Request, singular: str, plural: str, n: int, **variables: object) -> str:
    """Translate a message that depends on a count; ``%(num)d`` is the count."""
    text = _translations(request).ngettext(singular, plural, n)
    return _format(text, {"num": n, **variables})


def translate(request: web.Request, message: Message) -> str:
    """A message of the records (an error, a label) in the language of this request."""
    translations = _translations(request)
    return message.render(translations.gettext, translations.ngettext)


@dataclass(frozen=True)
class Localizer:
    """Bound translation and formatting functions of one request, for templates."""

    lang: str
    translations: _gettext.NullTranslations

    def gettext(self, message: str, **variables: object) -> str:
        """Translate a message."""
        return _format(self.translations.gettext(message), variables)

    def ngettext(self, singular: str, plural: str, n: int, **variables: object) -> str:
        """Translate a message that depends on a count."""
        return _format(self.translations.ngettext(singular, plural, n), {"num": n, **variables})

    def format(self, value: datetime | date | time | None, style: str = "datetime") -> str:
        """A date or time in local time and this language's format ('' for None)."""
        return format_value(value, self.lang, style)

    def message(self, message: Message) -> str:
        """A message of the records in this language."""
        return message.render(self.translations.gettext, self.translations.ngettext)

    def label(self, vocabulary: str, value: object) -> str:
        """The name of a status, role or kind (``records.vocabulary``) in this language."""
        msgid = name_id(vocabulary, value)
        return self.translations.gettext(msgid) if msgid else str(value or "")

    def choices(self, vocabulary: str) -> list[tuple[str, str]]:
        """(value, name) of every value of a vocabulary, in its order, for a select."""
        return [(value, self.label(vocabulary, value)) for value in VOCABULARY[vocabulary]]


def localizer(request: web.Request) -> Localizer:
    """The translation and formatting functions of a request."""
    return Localizer(lang=request_lang(request), translations=_translations(request))


def format_value(value: datetime | date | time | None, lang: str, style: str = "datetime") -> str:
    """Format a date, time or datetime for people in Vietnam.

    ``style`` is one of ``date``, ``time``, ``datetime``, ``long_date``, ``long_datetime``,
    ``day_month``.
    """
    if value is None:
        return ""
    patterns = _PATTERNS.get(lang, _PATTERNS[SOURCE_LANG])
    pattern = patterns.get(style, patterns["datetime"])
    locale = Locale.parse(lang if lang in LANGUAGES else SOURCE_LANG)
    if isinstance(value, datetime):
        return babel_dates.format_datetime(to_local(value), pattern, locale=locale)
    if isinstance(value, date):
        return babel_dates.format_date(value, pattern, locale=locale)
    return babel_dates.format_time(value, pattern, locale=locale)


def format_date(value: date | datetime | None, lang: str) -> str:
    """A date as ``dd/MM/yyyy`` (Vietnamese) or ``d MMM yyyy`` (English)."""
    return format_value(value, lang, "date")


def format_time(value: datetime | time | None, lang: str) -> str:
    """A time of day on the 24-hour clock, in local time."""
    return format_value(value, lang, "time")


def format_datetime(value: datetime | None, lang: str, style: str = "datetime") -> str:
    """A moment in local time, e.g. ``14:30 29/11/2026``."""
    return format_value(value, lang, style)


def format_filesize(size: int | float, lang: str) -> str:
    """A file size in binary units with the language's decimal mark: ``1,5 MB`` / ``1.5 MB``."""
    locale = Locale.parse(lang if lang in LANGUAGES else SOURCE_LANG)
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            break
        value /= 1024
    pattern = "#,##0" if unit == "B" else "#,##0.#"
    return f"{babel_numbers.format_decimal(value, format=pattern, locale=locale)} {unit}"


def format_timedelta(seconds: float, lang: str) -> str:
    """A duration in words, e.g. ``2 giờ`` / ``2 hours``."""
    locale = Locale.parse(lang if lang in LANGUAGES else SOURCE_LANG)
    return babel_dates.format_timedelta(timedelta(seconds=seconds), locale=locale, threshold=1.5)
