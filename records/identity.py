"""Who the patient is, as the Ministry of Health's forms ask: ethnicity and citizen ID.

Ethnicity (dân tộc) comes from the national list of the 54 ethnic groups with their official
two-digit codes (Danh mục các dân tộc Việt Nam, Quyết định 121-TCTK/PPCĐ of the General
Statistics Office, the codes the health insurance data exchange uses too). The names are proper
names and are shown as written here in every language.

The citizen ID (số định danh cá nhân / căn cước công dân) has 12 digits: three for the province
or city where the birth was registered, one for the century of birth and sex, two for the last
digits of the year of birth, then six random digits (Thông tư 07/2016/TT-BCA, Điều 7).
"""

from __future__ import annotations

from collections.abc import Mapping

ETHNICITIES: Mapping[str, str] = {
    "01": "Kinh",
    "02": "Tày",
    "03": "Thái",
    "04": "Hoa",
    "05": "Khơ-me",
    "06": "Mường",
    "07": "Nùng",
    "08": "HMông",
    "09": "Dao",
    "10": "Gia-rai",
    "11": "Ngái",
    "12": "Ê-đê",
    "13": "Ba-na",
    "14": "Xơ-đăng",
    "15": "Sán Chay",
    "16": "Cơ-ho",
    "17": "Chăm",
    "18": "Sán Dìu",
    "19": "Hrê",
    "20": "Mnông",
    "21": "Ra-glai",
    "22": "Xtiêng",
    "23": "Bru-Vân Kiều",
    "24": "Thổ",
    "25": "Giáy",
    "26": "Cơ-tu",
    "27": "Gié-Triêng",
    "28": "Mạ",
    "29": "Khơ-mú",
    "30": "Co",
    "31": "Tà-ôi",
    "32": "Chơ-ro",
    "33": "Kháng",
    "34": "Xinh-mun",
    "35": "Hà Nhì",
    "36": "Chu-ru",
    "37": "Lào",
    "38": "La Chí",
    "39": "La Ha",
    "40": "Phù Lá",
    "41": "La Hủ",
    "42": "Lự",
    "43": "Lô Lô",
    "44": "Chứt",
    "45": "Mảng",
    "46": "Pà Thẻn",
    "47": "Cơ Lao",
    "48": "Cống",
    "49": "Bố Y",
    "50": "Si La",
    "51": "Pu Péo",
    "52": "Brâu",
    "53": "Ơ Đu",
    "54": "Rơ-măm",
}

# Codes of the 63 provinces and cities (Thông tư 07/2016/TT-BCA, Phụ lục), the first three
# digits of a citizen ID.
PROVINCE_CODES: frozenset[str] = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 "
    "035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 "
    "070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)

# The model validators raise these; the web edge shows them in Vietnamese (web.validation).
CITIZEN_ID_FORMAT = "citizen id must be 12 digits"
CITIZEN_ID_PROVINCE = "citizen id has an unknown province code"
CITIZEN_ID_YEAR = "citizen id does not match the year of birth"
CITIZEN_ID_SEX = "citizen id does not match the sex"
ETHNICITY_UNKNOWN = "unknown ethnicity code"


def ethnicity_name(code: str | None) -> str:
    """The name of an ethnic group by its code; empty for none or an unknown code."""
    return ETHNICITIES.get(code or "", "")


def clean_ethnicity(value: object) -> object:
    """An ethnicity code as stored ("1" is "01"), None for none; an unknown code is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return value
    value = value.strip()
    if not value:
        return None
    if value.isdigit() and len(value) == 1:
        value = "0" + value
    if value not in ETHNICITIES:
        raise ValueError(ETHNICITY_UNKNOWN)
    return value


def clean_citizen_id(value: object) -> object:
    """A citizen ID without spaces or dots, checked for length and province; None for none."""
    if not isinstance(value, str):
        return value
    value = "".join(value.split()).replace(".", "")
    if not value:
        return None
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        raise ValueError(CITIZEN_ID_FORMAT)
    if value[:3] not in PROVINCE_CODES:
        raise ValueError(CITIZEN_ID_PROVINCE)
    return value


def citizen_id_birth(value: str) -> tuple[int, bool]:
    """The year of birth and whether the holder is female, as a citizen ID encodes them."""
    code = int(value[3])
    century = 1900 + 100 * (code // 2)
    return century + int(value[4:6]), code % 2 == 1


def check_citizen_id(value: str | None, *, birth_year: int | None, sex: str | None) -> None:
    """Refuse a citizen ID whose year of birth or sex contradicts the patient's record."""
    if value is None:
        return
    year, female = citizen_id_birth(value)
    if birth_year is not None and year != birth_year:
        raise ValueError(CITIZEN_ID_YEAR)
    if sex in ("male", "female") and female != (sex == "female"):
        raise ValueError(CITIZEN_ID_SEX)
