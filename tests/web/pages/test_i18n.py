"""Translations: every page string has English, the switch works, dates read as in Vietnam."""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pagetools import Site, field_error, running_site
from sqlalchemy.ext.asyncio import AsyncEngine

from records.errors import Conflict
from records.messages import msg, nmsg
from records.models import CaseStatus
from records.vocabulary import label
from web.catalogue import (
    extract_messages,
    message_sources,
    missing_translations,
    placeholder_mismatches,
)
from web.i18n import (
    LOCALE_DIR,
    Translations,
    format_date,
    format_datetime,
    format_filesize,
    format_time,
    read_catalog,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def site(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Site]:
    """The application with people of three facilities."""
    async with running_site(engine, tmp_path) as running:
        yield running


@pytest.mark.parametrize("source", message_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_message_has_an_english_translation(source: Path) -> None:
    missing = missing_translations(source)
    assert not missing, f"{source.name}: add to web/locale/en/LC_MESSAGES/*.po:\n" + "\n".join(
        missing
    )


def test_the_catalogue_covers_the_records_and_the_api() -> None:
    sources = {str(p.relative_to(ROOT)) for p in message_sources()}
    assert {"records/access.py", "records/services/cases.py", "web/api/common.py"} <= sources
    assert not any("migrations" in s for s in sources)


def test_translations_use_only_the_placeholders_their_message_gives() -> None:
    assert placeholder_mismatches() == []


def test_the_extraction_finds_template_and_code_strings() -> None:
    base = [f.msgid for f in extract_messages(ROOT / "web/templates/base.html")]
    assert "Đăng xuất" in base
    code = [f.msgid for f in extract_messages(ROOT / "web/pages/auth.py")]
    assert "Bạn đã đăng xuất" in code and "Mật khẩu nhập lại không khớp" in code
    records = extract_messages(ROOT / "records/services/attachments.py")
    assert any(f.msgid == "Hồ sơ ở trạng thái «%(status)s», không thể thêm tệp" for f in records)
    assert any(f.msgid == "Mô tả dài tối đa %(num)d ký tự" and f.plural for f in records)


def test_messages_of_the_records_speak_the_reader_s_language() -> None:
    en = Translations.load(LOCALE_DIR).get("en")
    refusal = Conflict(
        msg(
            "Hồ sơ ở trạng thái «%(status)s», không thể sửa", status=label(CaseStatus.scheduled)
        )
    )
    assert refusal.message == "Hồ sơ ở trạng thái «Đã lên lịch», không thể sửa"
    assert refusal.text.render(en.gettext, en.ngettext) == (
        "The case file is «Scheduled» and can no longer be edited"
    )
    one, two = (
        nmsg("Mô tả dài tối đa %(num)d ký tự", "Mô tả dài tối đa %(num)d ký tự", n) for n in (1, 2)
    )
    assert one.render(en.gettext, en.ngettext) == "The description may be at most 1 character"
    assert two.render(en.gettext, en.ngettext) == "The description may be at most 2 characters"


def _write_po(path: Path, entries: dict[str, str], fuzzy: AbstractSet[str] = frozenset()) -> None:
    lines = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=utf-8\\n"', ""]
    for msgid, msgstr in entries.items():
        if msgid in fuzzy:
            lines.append("#, fuzzy")
        lines += [f'msgid "{msgid}"', f'msgstr "{msgstr}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def test_every_po_file_of_a_language_is_merged(tmp_path: Path) -> None:
    po_dir = tmp_path / "en" / "LC_MESSAGES"
    po_dir.mkdir(parents=True)
    _write_po(po_dir / "a.po", {"Bệnh nhân": "Patients", "Lưu": "Save", "Nháp": ""})
    _write_po(po_dir / "b.po", {"Hủy": "Cancel", "Đóng": "Close"}, fuzzy={"Đóng"})
    en = Translations.load(tmp_path).get("en")
    assert en.gettext("Bệnh nhân") == "Patients" and en.gettext("Hủy") == "Cancel"
    # Untranslated and fuzzy entries fall back to the Vietnamese source.
    assert en.gettext("Nháp") == "Nháp" and en.gettext("Đóng") == "Đóng"
    assert "Đóng" not in read_catalog(tmp_path, "en")


def test_the_shipped_catalogs_load() -> None:
    en = Translations.load(LOCALE_DIR).get("en")
    assert en.gettext("Đăng nhập") == "Sign in"
    assert en.ngettext("%(num)d hồ sơ", "%(num)d hồ sơ", 2) == "%(num)d case files"
    # The countdown on the home page: "1 day", "2 days".
    assert [en.ngettext("ngày", "ngày", n) for n in (1, 2)] == ["day", "days"]


def test_dates_are_shown_in_vietnam_time() -> None:
    moment = datetime(2026, 11, 29, 1, 30, tzinfo=UTC)
    assert format_datetime(moment, "vi") == "08:30 29/11/2026"
    assert format_datetime(moment, "en") == "29 Nov 2026, 08:30"
    assert format_time(moment, "vi") == "08:30"
    assert format_date(date(2026, 1, 5), "vi") == "05/01/2026"
    assert format_datetime(moment, "vi", "long_date") == "Chủ Nhật, 29/11/2026"
    assert format_datetime(None, "vi") == ""


def test_file_sizes_use_the_language_s_decimal_mark() -> None:
    assert format_filesize(638, "vi") == "638 B"
    assert format_filesize(1536, "vi") == "1,5 KB"
    assert format_filesize(1536, "en") == "1.5 KB"
    assert format_filesize(200 * 1024 * 1024, "vi") == "200 MB"


async def test_the_language_switch_gives_english_and_back(site: Site) -> None:
    await site.login("doctor")
    resp = await site.client.get("/lang/en?next=/patients", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/patients"
    html = await site.page("/patients")
    assert '<html lang="en">' in html
    assert "Add patient" in html and "Sign out" in html and "Referring doctor" in html
    assert "Thêm bệnh nhân" not in html and "Đăng xuất" not in html
    html = await site.page("/")
    assert "My upcoming consultations" in html
    await site.client.get("/lang/vi?next=/")
    assert "Đăng xuất" in await site.page("/")


async def test_errors_speak_the_chosen_language(site: Site) -> None:
    await site.client.get("/lang/en")
    await site.login("doctor")
    html = await site.page("/cases/00000000-0000-0000-0000-000000000000", status=404)
    assert "Case file not found" in html and "Back to home" in html


async def test_the_switch_refuses_other_sites_and_unknown_languages(site: Site) -> None:
    resp = await site.client.get("/lang/en?next=https://evil.example/", allow_redirects=False)
    assert resp.headers["Location"] == "/"
    resp = await site.client.get("/lang/fr", allow_redirects=False)
    assert resp.status == 404


async def test_api_errors_speak_the_chosen_language_with_their_figures(site: Site) -> None:
    await site.login("doctor")
    resp = await site.client.get("/api/v1/cases", params={"limit": "0"})
    assert resp.status == 400
    assert (await resp.json())["error"]["fields"]["limit"] == "Phải từ 1 đến 200"
    await site.client.get("/lang/en")
    resp = await site.client.get("/api/v1/cases", params={"limit": "0"})
    error = (await resp.json())["error"]
    assert error["message"] == "Invalid parameter"
    assert error["fields"] == {"limit": "Must be from 1 to 200"}
    resp = await site.client.get("/api/v1/cases", params={"q": "x" * 201})
    assert (await resp.json())["error"]["fields"] == {"q": "Too long (at most 200 characters)"}


async def test_form_errors_speak_the_chosen_language(site: Site) -> None:
    await site.login("doctor")
    await site.client.get("/lang/en")
    status, html, _ = await site.post("/account/password", {"current_password": ""})
    assert status == 400 and field_error(html, "new_password") == "This field is required"
    status, html, _ = await site.post("/patients", {"full_name": "Lê Văn Tám", "sex": "male"})
    # The model's own limit, in English and in the singular.
    assert status == 400 and field_error(html, "mrn") == "Too short (at least 1 character)"
