"""The patient's identity as the forms ask: ethnicity from the national list, the citizen ID."""

from __future__ import annotations

import factories
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from records import identity
from records.actor import Actor
from records.errors import Invalid
from records.models import CaseUpdate, PatientCreate, PatientUpdate, Sex
from records.services import patients


def test_the_national_list_has_54_groups_with_two_digit_codes() -> None:
    assert len(identity.ETHNICITIES) == 54
    assert list(identity.ETHNICITIES) == [f"{i:02d}" for i in range(1, 55)]
    assert identity.ETHNICITIES["01"] == "Kinh" and identity.ETHNICITIES["54"] == "Rơ-măm"
    assert len(set(identity.ETHNICITIES.values())) == 54
    assert len(identity.PROVINCE_CODES) == 63
    assert identity.ethnicity_name("17") == "Chăm"
    assert identity.ethnicity_name(None) == identity.ethnicity_name("99") == ""


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("01", "01"), ("1", "01"), (" 54 ", "54"), (3, "03"), ("", None), (None, None)],
)
def test_ethnicity_codes_are_stored_as_on_the_list(raw: object, stored: str | None) -> None:
    made = PatientCreate(
        mrn="BN1", full_name="Lò Văn Pọm", sex=Sex.male, birth_year=1970, ethnicity=raw
    )
    assert made.ethnicity == stored


@pytest.mark.parametrize("raw", ["00", "55", "Kinh", "1a", "001", True])
def test_an_ethnicity_off_the_list_is_refused(raw: object) -> None:
    with pytest.raises(ValidationError) as caught:
        PatientUpdate(ethnicity=raw)
    assert caught.value.errors()[0]["loc"] == ("ethnicity",)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("070170012345", "070170012345"), ("070 170 012 345", "070170012345"), ("", None)],
)
def test_citizen_ids_are_stored_bare(raw: str, stored: str | None) -> None:
    assert PatientUpdate(citizen_id=raw).citizen_id == stored


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("07017001234", identity.CITIZEN_ID_FORMAT),  # 11 digits
        ("0701700123456", identity.CITIZEN_ID_FORMAT),  # 13 digits
        ("07017001234a", identity.CITIZEN_ID_FORMAT),
        ("０７０１７００１２３４５", identity.CITIZEN_ID_FORMAT),  # full-width digits
        ("003170012345", identity.CITIZEN_ID_PROVINCE),  # no province 003
        ("099170012345", identity.CITIZEN_ID_PROVINCE),
    ],
)
def test_malformed_citizen_ids_are_refused(raw: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PatientUpdate(citizen_id=raw)
    assert problem in str(caught.value)


def test_the_citizen_id_encodes_century_year_and_sex() -> None:
    assert identity.citizen_id_birth("079068001234") == (1968, False)
    assert identity.citizen_id_birth("079168001234") == (1968, True)
    assert identity.citizen_id_birth("001205001234") == (2005, False)
    assert identity.citizen_id_birth("001305001234") == (2005, True)
    identity.check_citizen_id("079168001234", birth_year=1968, sex="female")
    identity.check_citizen_id("079168001234", birth_year=None, sex="other")
    with pytest.raises(ValueError, match=identity.CITIZEN_ID_YEAR):
        identity.check_citizen_id("079168001234", birth_year=2068, sex="female")
    with pytest.raises(ValueError, match=identity.CITIZEN_ID_SEX):
        identity.check_citizen_id("079168001234", birth_year=1968, sex="male")


async def test_services_check_the_citizen_id_against_the_record(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    doctor = await factories.user(session, facility=fac)
    who = Actor.of(doctor)
    base = {"mrn": "BN-9", "full_name": "Hoàng Thị Mai", "sex": Sex.female, "birth_year": 1968}
    with pytest.raises(Invalid) as refused:
        await patients.create_patient(
            session=session,
            data=PatientCreate(**base, citizen_id="079068001234"),  # a man's number
            actor=who,
        )
    assert set(refused.value.fields) == {"citizen_id"}
    made = await patients.create_patient(
        session=session,
        data=PatientCreate(**base, citizen_id="079168001234", ethnicity="02", occupation="Nông"),
        actor=who,
    )
    assert (made.citizen_id, made.ethnicity, made.occupation) == ("079168001234", "02", "Nông")
    # A later correction is checked against what is stored and what changes with it.
    with pytest.raises(Invalid) as refused:
        await patients.update_patient(
            session=session, patient_id=made.id, data=PatientUpdate(birth_year=1969), actor=who
        )
    assert set(refused.value.fields) == {"citizen_id"}
    changed = await patients.update_patient(
        session=session,
        patient_id=made.id,
        data=PatientUpdate(birth_year=1969, citizen_id="079169001234"),
        actor=who,
    )
    assert changed.birth_year == 1969 and changed.citizen_id == "079169001234"
    # Unknown stays unknown: clearing is allowed.
    cleared = await patients.update_patient(
        session=session,
        patient_id=made.id,
        data=PatientUpdate(citizen_id="", ethnicity=""),
        actor=who,
    )
    assert cleared.citizen_id is None and cleared.ethnicity is None


def test_department_and_bed_are_trimmed_and_bounded() -> None:
    assert CaseUpdate(department="  Khoa  Nội ", bed=" 12 ").department == "Khoa Nội"
    assert CaseUpdate(bed="   ").bed is None
    with pytest.raises(ValidationError):
        CaseUpdate(bed="x" * 21)
