"""Case files: the status machine, edit rules, history, listing filters and isolation."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import factories
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from records.actor import Actor
from records.errors import Conflict, Forbidden, Invalid, NotFound
from records.models import (
    CASE_TRANSITIONS,
    Case,
    CaseCreate,
    CaseStatus,
    CaseUpdate,
    FacilityLevel,
    ParticipantRole,
    Role,
    Urgency,
)
from records.services import cases

ILLEGAL = [
    (a, b) for a, b in itertools.product(CaseStatus, CaseStatus) if b not in CASE_TRANSITIONS[a]
]


async def test_create_update_history(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    doc = Actor.of(await factories.user(session, facility=fac))
    p = await factories.patient(session, facility=fac)
    case = await cases.create_case(
        session=session,
        actor=doc,
        data=CaseCreate(
            patient_id=p.id,
            title="Viêm phổi nặng",
            specialty="Hô hấp",
            urgency=Urgency.urgent,
            icd10="j18.9",
        ),
    )
    assert case.facility_id == fac.id and case.icd10 == "J18.9"
    case = await cases.update_case(
        session=session, case_id=case.id, actor=doc, data=CaseUpdate(diagnosis="Viêm phổi thùy")
    )
    await cases.transition(session=session, case_id=case.id, to=CaseStatus.submitted, actor=doc)
    await cases.update_case(
        session=session,
        case_id=case.id,
        actor=doc,
        data=CaseUpdate(question="Có cần chuyển tuyến?"),
    )
    await cases.transition(session=session, case_id=case.id, to=CaseStatus.closed, actor=doc)
    with pytest.raises(Conflict):
        await cases.update_case(
            session=session, case_id=case.id, actor=doc, data=CaseUpdate(question="?")
        )
    events = await cases.history(session=session, case_id=case.id, actor=doc)
    assert [e.action for e in events] == ["created", "updated", "status", "updated", "status"]


@pytest.mark.parametrize(("start", "to"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
async def test_illegal_transitions_are_refused(
    session: AsyncSession, start: CaseStatus, to: CaseStatus
) -> None:
    fac = await factories.facility(session)
    author = await factories.user(session, facility=fac)
    p = await factories.patient(session, facility=fac)
    case = await factories.case(session, patient=p, author=author, status=start)
    with pytest.raises(Conflict) as err:
        await cases.transition(session=session, case_id=case.id, to=to, actor=Actor.of(author))
    assert "Không thể chuyển hồ sơ" in err.value.message
    assert (
        await cases.get_case(session=session, case_id=case.id, actor=Actor.system())
    ).status == start


async def test_legal_transitions_walk(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    author = await factories.user(session, facility=fac)
    p = await factories.patient(session, facility=fac)
    case = await factories.case(session, patient=p, author=author)
    for to in (
        CaseStatus.submitted,
        CaseStatus.scheduled,
        CaseStatus.discussed,
        CaseStatus.scheduled,
        CaseStatus.discussed,
        CaseStatus.closed,
    ):
        case = await cases.transition(
            session=session, case_id=case.id, to=to, actor=Actor.of(author)
        )
        assert case.status == to


async def test_listing_filters_and_isolation(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    other = await factories.facility(session)
    doc_user = await factories.user(session, facility=fac)
    other_user = await factories.user(session, facility=other)
    doc = Actor.of(doc_user)
    p = await factories.patient(session, facility=fac)
    q = await factories.patient(session, facility=other)
    mine = await factories.case(session, patient=p, author=doc_user, title="Suy tim độ III")
    await factories.case(
        session, patient=p, author=doc_user, title="Đái tháo đường", status="submitted"
    )
    theirs = await factories.case(session, patient=q, author=other_user, title="Suy tim")

    page = await cases.list_cases(session=session, actor=doc)
    assert page.total == 2 and theirs.id not in {c.id for c in page.items}
    page = await cases.list_cases(session=session, actor=doc, q="suy tim")
    assert [c.id for c in page.items] == [mine.id]
    page = await cases.list_cases(session=session, actor=doc, status=CaseStatus.submitted)
    assert page.total == 1
    page = await cases.list_cases(session=session, actor=doc, patient_id=q.id)
    assert page.total == 0
    with pytest.raises(NotFound):
        await cases.get_case(session=session, case_id=theirs.id, actor=doc)
    with pytest.raises(NotFound):
        await cases.create_case(
            session=session,
            actor=doc,
            data=CaseCreate(patient_id=q.id, title="Thử", specialty="Nội"),
        )


async def test_readers_who_may_not_write_get_forbidden(session: AsyncSession) -> None:
    prov = await factories.facility(session, level="provincial")
    fac = await factories.facility(session)
    author = await factories.user(session, facility=fac)
    spec_user = await factories.user(session, facility=prov, role=Role.specialist)
    p = await factories.patient(session, facility=fac)
    case = await factories.case(session, patient=p, author=author)
    await factories.consultation(
        session,
        host=prov,
        requesting=fac,
        cases=[case],
        participants={spec_user.id: ParticipantRole.specialist},
    )
    spec = Actor.of(spec_user)
    assert (await cases.get_case(session=session, case_id=case.id, actor=spec)).id == case.id
    with pytest.raises(Forbidden):
        await cases.update_case(
            session=session, case_id=case.id, actor=spec, data=CaseUpdate(diagnosis="x")
        )
    with pytest.raises(Forbidden):
        await cases.transition(
            session=session, case_id=case.id, to=CaseStatus.submitted, actor=spec
        )


async def test_list_pages_add_up_most_recently_changed_first(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    author = await factories.user(session, facility=fac)
    doc = Actor.of(author)
    p = await factories.patient(session, facility=fac)
    made = [
        await factories.case(session, patient=p, author=author, title=f"Ca bệnh số {i}")
        for i in range(5)
    ]
    # Editing the oldest case brings it to the top.
    await cases.update_case(
        session=session, case_id=made[0].id, data=CaseUpdate(question="Hướng xử trí?"), actor=doc
    )
    full = await cases.list_cases(session=session, actor=doc)
    assert full.total == 5
    assert [c.id for c in full.items] == [made[0].id] + [c.id for c in reversed(made[1:])]
    paged: list[object] = []
    for offset in (0, 2, 4, 6):
        page = await cases.list_cases(session=session, actor=doc, limit=2, offset=offset)
        assert page.total == 5
        paged += [c.id for c in page.items]
    assert paged == [c.id for c in full.items]
    empty = await cases.list_cases(session=session, actor=doc, status=CaseStatus.closed)
    assert empty.total == 0 and empty.items == []


async def test_the_list_merges_every_reason_to_read_a_case_in_one_order(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    province = await factories.facility(session, level=FacilityLevel.provincial)
    home = await factories.facility(session, parent=province)
    elsewhere = await factories.facility(session, parent=province)
    me = await factories.user(session, facility=home)
    colleague = await factories.user(session, facility=elsewhere)
    t0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
    made: list[Case] = []
    for i, (fac, author) in enumerate([(home, me), (elsewhere, colleague)] * 4):
        patient = await factories.patient(session, facility=fac)
        case = await factories.case(session, patient=patient, author=author, title=f"Ca {i}")
        # Two pairs changed at the same moment: the id decides between them.
        case.updated_at = t0 + timedelta(minutes=i // 2 * 2 if i < 4 else i)
        session.add(case)
        made.append(case)
    await session.commit()
    # Invited to a session with two of the other centre's cases and one of my own.
    await factories.consultation(
        session,
        host=province,
        requesting=elsewhere,
        cases=[made[1], made[5], made[2]],
        participants={me.id: ParticipantRole.specialist},
    )
    readable = [c for c in made if c.facility_id == home.id or c in (made[1], made[5])]
    expected = [
        c.id for c in sorted(readable, key=lambda c: (c.updated_at, c.id.hex), reverse=True)
    ]

    doc = Actor.of(me)
    full = await cases.list_cases(session=session, actor=doc)
    assert (full.total, [c.id for c in full.items]) == (6, expected)
    paged: list[object] = []
    for offset in range(0, 8, 2):
        page = await cases.list_cases(session=session, actor=doc, limit=2, offset=offset)
        assert page.total == 6
        paged += [c.id for c in page.items]
    assert paged == expected
    only = await cases.list_cases(session=session, actor=doc, q="Ca 5")
    assert (only.total, [c.id for c in only.items]) == (1, [made[5].id])

    # A long list stops counting past the page and says it is a lower bound.
    monkeypatch.setattr(cases, "COUNT_BEYOND", 1)
    first = await cases.list_cases(session=session, actor=doc, limit=2, offset=0)
    assert (first.total, first.total_exact, len(first.items)) == (3, False, 2)
    last = await cases.list_cases(session=session, actor=doc, limit=2, offset=4)
    assert (last.total, last.total_exact, [c.id for c in last.items]) == (6, True, expected[4:])

    # Paged by key: each page starts where the last ended, ties broken by id, and says where
    # the next starts until the last one.
    monkeypatch.setattr(cases, "COUNT_BEYOND", 1000)
    keyed: list[object] = []
    after: str | None = None
    for _ in range(4):
        page = await cases.list_cases(session=session, actor=doc, limit=2, after=after)
        keyed += [c.id for c in page.items]
        after = page.next_after
        if after is None:
            break
    assert keyed == expected and after is None and page.total == 6
    with pytest.raises(Invalid) as bad:
        await cases.list_cases(session=session, actor=doc, after="not-a-page")
    assert "after" in bad.value.fields
