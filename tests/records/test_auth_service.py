"""Accounts: password policy, sessions, tokens, throttling, admin sign-outs, join tokens."""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import timedelta
from functools import lru_cache

import factories
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from records import passwords
from records.actor import Actor
from records.db import session_maker
from records.errors import Forbidden, Invalid, Throttled, Unauthenticated
from records.models import (
    ApiToken,
    AuditEvent,
    LoginThrottle,
    Role,
    User,
    UserSession,
    utcnow,
)
from records.services import auth, users

PASSWORD = "Hội chẩn an toàn 2024"
ADDR = "10.0.0.7"


@lru_cache(maxsize=1)
def password_hash() -> str:
    return passwords.hash_password(PASSWORD)


async def make_user(session: AsyncSession, role: Role = Role.doctor, **kw: object) -> User:
    fac = await factories.facility(session)
    user = await factories.user(session, facility=fac, role=role, **kw)  # type: ignore[arg-type]
    user.password_hash = password_hash()
    session.add(user)
    await session.commit()
    return user


async def unblock(session: AsyncSession) -> None:
    """Let the delay pass without waiting: clear every blocked_until."""
    await session.execute(sa.update(LoginThrottle).values(blocked_until=None))
    await session.commit()


async def expect_error(coro: object) -> Exception:
    try:
        await coro  # type: ignore[misc]
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


# Passwords ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pw",
    ["short", "x" * 129, "MatKhau123", "123456789A", "iloveyou12", "AnhYeuEm123", "aaaaaaaaaaaa"],
)
def test_weak_passwords_are_refused(pw: str) -> None:
    with pytest.raises(Invalid) as err:
        passwords.validate_new_password(pw, username="lan.nt")
    assert "password" in err.value.fields


def test_password_rules() -> None:
    with pytest.raises(Invalid, match="tên đăng nhập"):
        passwords.validate_new_password("Bacsi.Lan.NT", username="bacsi.lan.nt")
    passwords.validate_new_password("ngựa-ô-chạy-trên-đê", username="lan.nt")
    passwords.validate_new_password("y" * 127 + "z", username="lan.nt")
    assert {"matkhau123", "123456789a", "iloveyou", "anhyeuem"} <= passwords.common_passwords()


def test_hash_parameters_and_unicode_forms() -> None:
    h = password_hash()
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(h, PASSWORD)
    assert passwords.verify_password(h, unicodedata.normalize("NFD", PASSWORD))
    assert not passwords.verify_password(h, PASSWORD + "!")
    assert not passwords.verify_password("not a hash", PASSWORD)


async def test_rehash_when_parameters_change(session: AsyncSession) -> None:
    user = await make_user(session)
    old = PasswordHasher(memory_cost=8192, time_cost=1, parallelism=1).hash(PASSWORD)
    user.password_hash = old
    session.add(user)
    await session.commit()
    await auth.login(session=session, username=user.username, password=PASSWORD)
    stored = (await session.get(User, user.id, populate_existing=True)).password_hash  # type: ignore[union-attr]
    assert stored != old and stored is not None
    assert not passwords.needs_rehash(stored)
    await auth.login(session=session, username=user.username, password=PASSWORD)


# Sessions -------------------------------------------------------------------------------------


async def session_row(session: AsyncSession, session_id: str) -> UserSession | None:
    return (
        await session.execute(
            select(UserSession)
            .where(col(UserSession.id_hash) == auth.secret_hash(session_id))
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def test_login_stores_only_a_hash_and_replaces_the_old_session(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    first = await auth.login(session=session, username=user.username.upper(), password=PASSWORD)
    assert len(first.session_id) >= 43
    assert (await session.execute(select(UserSession.id_hash))).scalars().all() == [
        auth.secret_hash(first.session_id)
    ]
    resolved = await auth.resolve_session_cookie(session=session, cookie_value=first.session_id)
    assert resolved is not None and resolved.id == user.id
    second = await auth.login(
        session=session,
        username=user.username,
        password=PASSWORD,
        replace_session_id=first.session_id,
    )
    assert second.session_id != first.session_id
    assert await auth.resolve_session_cookie(session=session, cookie_value=first.session_id) is None
    assert await auth.resolve_session_cookie(session=session, cookie_value=second.session_id)
    assert await auth.resolve_session_cookie(session=session, cookie_value="") is None
    assert await auth.resolve_session_cookie(session=session, cookie_value="forged") is None


async def test_idle_and_absolute_expiry(session: AsyncSession) -> None:
    user = await make_user(session)
    idle = await auth.login(session=session, username=user.username, password=PASSWORD)
    row = await session_row(session, idle.session_id)
    assert row is not None
    row.last_seen_at = utcnow() - timedelta(minutes=31)
    session.add(row)
    await session.commit()
    assert await auth.resolve_session_cookie(session=session, cookie_value=idle.session_id) is None
    assert await session_row(session, idle.session_id) is None

    old = await auth.login(session=session, username=user.username, password=PASSWORD)
    row = await session_row(session, old.session_id)
    assert row is not None
    assert row.expires_at - row.created_at == timedelta(hours=12)
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    await session.commit()
    assert await auth.resolve_session_cookie(session=session, cookie_value=old.session_id) is None


async def test_sliding_idle_expiry_writes_at_most_once_a_minute(session: AsyncSession) -> None:
    user = await make_user(session)
    s = await auth.login(session=session, username=user.username, password=PASSWORD)
    row = await session_row(session, s.session_id)
    assert row is not None
    recent = utcnow() - timedelta(seconds=20)
    row.last_seen_at = recent
    session.add(row)
    await session.commit()
    assert await auth.resolve_session_cookie(session=session, cookie_value=s.session_id)
    assert (await session_row(session, s.session_id)).last_seen_at == recent  # type: ignore[union-attr]
    stale = utcnow() - timedelta(minutes=29)
    row.last_seen_at = stale
    session.add(row)
    await session.commit()
    assert await auth.resolve_session_cookie(session=session, cookie_value=s.session_id)
    assert (await session_row(session, s.session_id)).last_seen_at > stale  # type: ignore[union-attr]


async def test_logout_cannot_be_replayed(session: AsyncSession) -> None:
    user = await make_user(session)
    s = await auth.login(session=session, username=user.username, password=PASSWORD)
    await auth.logout(session=session, session_id=s.session_id, client_addr=ADDR)
    assert await auth.resolve_session_cookie(session=session, cookie_value=s.session_id) is None
    await auth.logout(session=session, session_id=s.session_id)  # twice is harmless
    actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert actions.count("logout") == 1 and "login" in actions


async def test_admin_ends_all_sessions_and_disabling_ends_them(session: AsyncSession) -> None:
    user = await make_user(session)
    admin = Actor.of(await make_user(session, Role.admin))
    a = await auth.login(session=session, username=user.username, password=PASSWORD)
    b = await auth.login(session=session, username=user.username, password=PASSWORD)
    token, _ = await auth.create_api_token(session=session, user=user, ttl=timedelta(hours=1))
    with pytest.raises(Forbidden):
        await auth.end_all_sessions(session=session, user_id=user.id, actor=Actor.of(user))
    denied = (
        (await session.execute(select(AuditEvent).where(AuditEvent.action == "denied")))
        .scalars()
        .one()
    )
    assert denied.actor_id == user.id and denied.object_id == str(user.id)
    assert denied.detail == {"need": "admin"}
    assert await auth.end_all_sessions(session=session, user_id=user.id, actor=admin) == 3
    for sid in (a.session_id, b.session_id):
        assert await auth.resolve_session_cookie(session=session, cookie_value=sid) is None
    assert await auth.resolve_api_token(session=session, token=token) is None

    c = await auth.login(session=session, username=user.username, password=PASSWORD)
    token, _ = await auth.create_api_token(session=session, user=user, ttl=timedelta(hours=1))
    await users.set_active(session=session, user_id=user.id, active=False, actor=admin)
    await users.set_active(session=session, user_id=user.id, active=True, actor=admin)
    assert await auth.resolve_session_cookie(session=session, cookie_value=c.session_id) is None
    assert await auth.resolve_api_token(session=session, token=token) is None


# API tokens -----------------------------------------------------------------------------------


async def test_api_tokens(session: AsyncSession) -> None:
    user = await make_user(session)
    token, expires_at = await auth.token_login(
        session=session,
        username=user.username,
        password=PASSWORD,
        ttl=timedelta(hours=24),
        client_addr=ADDR,
    )
    assert expires_at - utcnow() > timedelta(hours=23)
    stored = (await session.execute(select(ApiToken))).scalars().one()
    assert stored.token_hash == auth.secret_hash(token) and token not in stored.token_hash
    assert (await auth.resolve_api_token(session=session, token=token)).id == user.id  # type: ignore[union-attr]
    stored.expires_at = utcnow() - timedelta(seconds=1)
    session.add(stored)
    await session.commit()
    assert await auth.resolve_api_token(session=session, token=token) is None

    token, _ = await auth.create_api_token(
        session=session, user=user, ttl=timedelta(hours=1), actor=Actor.system("cli")
    )
    await auth.revoke_api_token(session=session, token=token, actor=Actor.of(user))
    assert await auth.resolve_api_token(session=session, token=token) is None
    with pytest.raises(Unauthenticated):
        await auth.token_login(
            session=session, username=user.username, password="sai mật khẩu", ttl=timedelta(1)
        )


# Throttling -----------------------------------------------------------------------------------


async def test_delay_after_five_failures_same_for_unknown_usernames(session: AsyncSession) -> None:
    user = await make_user(session)
    for name, addr in ((user.username, "10.0.0.1"), ("khong.ton.tai", "10.0.0.2")):
        answers = [
            await expect_error(
                auth.login(
                    session=session, username=name, password="sai-mat-khau", client_addr=addr
                )
            )
            for _ in range(5)
        ]
        assert all(
            isinstance(e, Unauthenticated) and e.message == auth.BAD_CREDENTIALS for e in answers
        )
        # Even the right password waits now; the wait doubles with each further failure.
        throttled = await expect_error(
            auth.login(session=session, username=name, password=PASSWORD, client_addr=addr)
        )
        assert isinstance(throttled, Throttled) and 0 < throttled.retry_after <= 1
        await unblock(session)
        await expect_error(
            auth.login(session=session, username=name, password="x", client_addr=addr)
        )
        throttled = await expect_error(
            auth.login(session=session, username=name, password=PASSWORD, client_addr=addr)
        )
        assert isinstance(throttled, Throttled) and 1 < throttled.retry_after <= 2
    await unblock(session)
    await auth.login(session=session, username=user.username, password=PASSWORD)
    failed = (
        (await session.execute(select(AuditEvent).where(AuditEvent.action == "login-failed")))
        .scalars()
        .all()
    )
    assert all(e.actor_id is None for e in failed)
    assert all(e.object_id is None for e in failed if e.outcome == "throttled")
    assert [e.outcome for e in failed].count("failed") == 12
    # Attempts refused by the delay are recorded too, without checking the password.
    assert [e.outcome for e in failed].count("throttled") == 4
    assert {e.detail["username"] for e in failed} == {user.username, "khong.ton.tai"}


async def test_failures_from_one_address_are_delayed(session: AsyncSession) -> None:
    user = await make_user(session)
    for i in range(5):
        await expect_error(
            auth.login(session=session, username=f"ai{i}", password="x", client_addr=ADDR)
        )
    err = await expect_error(
        auth.login(session=session, username=user.username, password=PASSWORD, client_addr=ADDR)
    )
    assert isinstance(err, Throttled)
    await auth.login(session=session, username=user.username, password=PASSWORD, client_addr="x")


async def test_parallel_guesses_cannot_slip_past_the_delay(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    user = await make_user(session)
    # Five failures so far and the delay already over: the next failure starts a new one.
    session.add(LoginThrottle(key=f"u:{user.username}", failures=auth.FREE_FAILURES))
    await session.commit()
    maker = session_maker(engine)

    async def guess(i: int) -> Exception:
        async with maker() as s:
            return await expect_error(
                auth.login(
                    session=s,
                    username=user.username,
                    password=f"doan-mo-{i}",
                    client_addr=f"10.1.0.{i}",
                )
            )

    answers = await asyncio.gather(*(guess(i) for i in range(6)))
    checked = [a for a in answers if isinstance(a, Unauthenticated)]
    assert len(checked) == 1 and checked[0].message == auth.BAD_CREDENTIALS
    assert all(isinstance(a, Throttled) for a in answers if a is not checked[0])
    row = await session.get(LoginThrottle, f"u:{user.username}", populate_existing=True)
    assert row is not None and row.failures == auth.FREE_FAILURES + 1


async def test_hundred_failures_lock_until_an_admin_unlocks(session: AsyncSession) -> None:
    user = await make_user(session)
    admin = Actor.of(await make_user(session, Role.admin))
    live = await auth.login(session=session, username=user.username, password=PASSWORD)
    for name in (user.username, "bong.ma"):
        if name == "bong.ma":
            # The unknown name takes the same path; start it near the limit to keep this fast.
            session.add(LoginThrottle(key="u:bong.ma", failures=auth.LOCK_AFTER - 1))
            await session.commit()
        rounds = auth.LOCK_AFTER if name == user.username else 1
        for _ in range(rounds):
            await unblock(session)
            err = await expect_error(
                auth.login(session=session, username=name, password="sai", client_addr=ADDR)
            )
        assert isinstance(err, Unauthenticated) and err.message == auth.ACCOUNT_LOCKED
        await unblock(session)
        err = await expect_error(
            auth.login(session=session, username=name, password=PASSWORD, client_addr=ADDR)
        )
        assert isinstance(err, Unauthenticated) and err.message == auth.ACCOUNT_LOCKED
    locked = await session.get(User, user.id, populate_existing=True)
    assert locked is not None and locked.locked_at is not None
    # A locked account is anonymous everywhere, even with a session opened before.
    assert await auth.resolve_session_cookie(session=session, cookie_value=live.session_id) is None
    with pytest.raises(Forbidden):
        await auth.unlock_user(session=session, user_id=user.id, actor=Actor.of(user))
    await auth.unlock_user(session=session, user_id=user.id, actor=admin)
    await unblock(session)
    await auth.login(session=session, username=user.username, password=PASSWORD, client_addr="y")


# Passwords changed and reset ------------------------------------------------------------------


async def test_change_own_password(session: AsyncSession) -> None:
    user = await make_user(session)
    keep = await auth.login(session=session, username=user.username, password=PASSWORD)
    other = await auth.login(session=session, username=user.username, password=PASSWORD)
    me = Actor.of(user, client_addr=ADDR)
    err = await expect_error(
        auth.change_password(
            session=session, actor=me, current_password="sai", new_password="Mật khẩu mới 2025"
        )
    )
    assert isinstance(err, Invalid) and "current_password" in err.fields
    err = await expect_error(
        auth.change_password(
            session=session, actor=me, current_password=PASSWORD, new_password="matkhau123"
        )
    )
    assert isinstance(err, Invalid)
    await auth.change_password(
        session=session,
        actor=me,
        current_password=PASSWORD,
        new_password="Mật khẩu mới 2025",
        keep_session_id=keep.session_id,
    )
    assert await auth.resolve_session_cookie(session=session, cookie_value=keep.session_id)
    assert await auth.resolve_session_cookie(session=session, cookie_value=other.session_id) is None
    await auth.login(session=session, username=user.username, password="Mật khẩu mới 2025")


async def test_admin_resets_a_password(session: AsyncSession) -> None:
    user = await make_user(session)
    admin = Actor.of(await make_user(session, Role.admin))
    s = await auth.login(session=session, username=user.username, password=PASSWORD)
    with pytest.raises(Forbidden):
        await auth.reset_password(
            session=session, user_id=user.id, new_password="Một mật khẩu khác", actor=Actor.of(user)
        )
    with pytest.raises(Invalid):
        await auth.reset_password(
            session=session, user_id=user.id, new_password="1234567890", actor=admin
        )
    await auth.reset_password(
        session=session, user_id=user.id, new_password="Một mật khẩu khác", actor=admin
    )
    assert await auth.resolve_session_cookie(session=session, cookie_value=s.session_id) is None
    await auth.login(session=session, username=user.username, password="Một mật khẩu khác")
    ops = (
        (await session.execute(select(AuditEvent.detail).where(AuditEvent.action == "admin")))
        .scalars()
        .all()
    )
    assert {"op": "password-reset"} in ops


# Join tokens ----------------------------------------------------------------------------------


async def test_join_tokens(session: AsyncSession, engine: AsyncEngine) -> None:
    user = await make_user(session)
    token, expires_at = await auth.issue_join_token(
        session=session, user_id=user.id, room_id="room-a", ttl_seconds=300
    )
    assert timedelta(seconds=290) < expires_at - utcnow() <= timedelta(seconds=300)
    with pytest.raises(Unauthenticated):
        await auth.consume_join_token(session=session, room_id="room-b", token=token)
    assert await auth.consume_join_token(session=session, room_id="room-a", token=token) == user.id
    with pytest.raises(Unauthenticated):
        await auth.consume_join_token(session=session, room_id="room-a", token=token)

    expired, _ = await auth.issue_join_token(
        session=session, user_id=user.id, room_id="room-a", ttl_seconds=1
    )
    await session.execute(sa.text("UPDATE join_token SET expires_at = created_at"))
    await session.commit()
    with pytest.raises(Unauthenticated):
        await auth.consume_join_token(session=session, room_id="room-a", token=expired)

    # Two sockets racing with one token: exactly one gets in.
    raced, _ = await auth.issue_join_token(
        session=session, user_id=user.id, room_id="room-a", ttl_seconds=60
    )
    maker = session_maker(engine)

    async def use() -> bool:
        async with maker() as s:
            try:
                await auth.consume_join_token(session=s, room_id="room-a", token=raced)
                return True
            except Unauthenticated:
                return False

    assert sorted(await asyncio.gather(use(), use(), use())) == [False, False, True]
