"""`imaging-view`: a presenter's view of a study reaches the room, late joiners included."""

from __future__ import annotations

from sighelpers import Harness, identity

VIEW = {"series": 1, "slice": 42, "center": -600, "width": 1500, "zoom": 1.5, "measurements": []}


async def test_the_room_follows_the_presenters_view_and_a_late_joiner_gets_it(
    app: Harness,
) -> None:
    a = await app.connect("r1", identity("a", presenter=True))
    b = await app.connect("r1", identity("b"))
    await a.expect("peer-joined")
    assert b.welcome["self"]["presenter"] is False
    await a.send(type="imaging-view", study="s-1", view=VIEW, id=1)
    shared = await b.expect("imaging-view")
    assert shared == {
        "type": "imaging-view",
        "from": a.peer_id,
        "name": "BS. a",
        "study": "s-1",
        "view": VIEW,
    }
    # Another room hears nothing; a late joiner gets the current view after its welcome.
    other = await app.connect("r2", identity("d"))
    c = await app.connect("r1", identity("c"))
    assert (await c.expect("imaging-view"))["view"] == VIEW
    await a.send(type="imaging-view", study="s-1", view=None)
    assert (await b.expect("imaging-view"))["view"] is None
    d = await app.connect("r1", identity("e"))
    await d.send(type="ping", id="p")
    # Sharing stopped: the newcomer's next frames are not an imaging view.
    assert (await d.expect("pong"))["id"] == "p"
    assert "imaging-view" not in d.types()
    assert "imaging-view" not in other.types()


async def test_a_view_too_large_or_malformed_is_refused_and_the_socket_survives(
    app: Harness,
) -> None:
    a = await app.connect("r1", identity("a", presenter=True))
    await a.send(type="imaging-view", study="s", view={"m": "x" * 5000}, id=2)
    error = await a.expect("error")
    assert error["code"] == "bad-message" and error["id"] == 2
    await a.send(type="imaging-view", study="s", view=[1, 2], id=3)
    assert (await a.expect("error"))["id"] == 3
    await a.send(type="imaging-view", view={}, id=4)
    assert (await a.expect("error"))["id"] == 4
    await a.send(type="ping", id=5)
    assert (await a.expect("pong"))["id"] == 5


async def test_only_the_presenter_or_a_moderator_leads(app: Harness) -> None:
    chair = await app.connect("r1", identity("chair", moderator=True))
    other = await app.connect("r1", identity("other"))
    await chair.expect("peer-joined")
    await other.send(type="imaging-view", study="s-1", view=VIEW, id=7)
    error = await other.expect("error")
    assert (error["code"], error["id"]) == ("forbidden", 7)
    await other.send(type="ping", id=8)
    assert (await other.expect("pong"))["id"] == 8
    assert "imaging-view" not in chair.types()
    # The chair may lead without presenting a case.
    await chair.send(type="imaging-view", study="s-1", view=VIEW)
    assert (await other.expect("imaging-view"))["from"] == chair.peer_id
