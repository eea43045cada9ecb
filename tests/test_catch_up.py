"""A long-running process (the API server) keeps up with what other processes store.

Each unit of work starts with ``RegieApplication.catch_up``: erasures done elsewhere drop their
keys from this process's cache, and Setup changes done elsewhere reach the kept Setup. When
nothing was stored since but this process's own commits, that is one query, not a lookup of
erasures and Setup events on every request.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventsourcing.persistence import OperationalError
from helpers import World
from scenarios import taken_on_case

from casusregie.adapters.store import open_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.plan import SetGoal
from casusregie.commands.session import Session, open_session
from casusregie.commands.users import AddUser, DeactivateUser
from casusregie.domain.errors import AccessDenied, NotFound, StoreProblem


class Server:
    """A second application on the world's store, keeping its Setup as ``regie serve`` does."""

    def __init__(self, world: World) -> None:
        self.app = RegieApplication(open_store(world.settings))
        self.app.keep_setup = True
        self.lookups = 0
        keyring = self.app.store.keyring
        sync = keyring.sync_erasures

        def counted() -> None:
            self.lookups += 1
            sync()

        keyring.sync_erasures = counted  # type: ignore[method-assign]

    def session(self, user: str) -> Session:
        return open_session(self.app, user, None, "test")


@pytest.fixture
def server(world: World) -> Iterator[Server]:
    server = Server(world)
    yield server
    server.app.store.close()


def test_after_its_own_commits_a_server_does_not_look_up_erasures_again(world: World, server: Server) -> None:
    case = taken_on_case(world)
    server.session("anna").execute(SetGoal(case=case, life_domain="huisvesting", description="huur betalen"))
    looked = server.lookups
    for text in ("schulden op orde", "werk vinden"):
        server.session("anna").execute(SetGoal(case=case, life_domain="financiën", description=text))
    assert server.lookups == looked


def test_what_another_process_stores_is_taken_in_at_the_next_unit_of_work(world: World, server: Server) -> None:
    case = taken_on_case(world)
    server.session("anna").execute(SetGoal(case=case, life_domain="huisvesting", description="huur betalen"))
    looked = server.lookups

    world.run("admin", AddUser(user_id="dora", role="regisseur", team="west"))  # another process

    assert server.session("dora").actor.user_id == "dora"
    assert server.lookups == looked + 1
    world.run("admin", DeactivateUser(user_id="dora", reason="uit dienst"))
    with pytest.raises(AccessDenied, match="deactivated"):
        server.session("dora")


def test_a_setup_change_by_the_server_itself_reaches_its_kept_setup(world: World, server: Server) -> None:
    server.session("admin").execute(AddUser(user_id="dora", role="regisseur", team="west"))
    assert server.session("dora").actor.user_id == "dora"
    server.session("admin").execute(DeactivateUser(user_id="dora", reason="uit dienst"))
    with pytest.raises(AccessDenied, match="deactivated"):
        server.session("dora")


def test_a_setup_change_that_was_not_saved_does_not_stay_with_the_server(
    world: World, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.session("anna")  # the server now keeps the Setup

    def refused(*aggregates: object, **kwargs: object) -> None:
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(server.app, "save", refused)
    with pytest.raises(StoreProblem):
        server.session("admin").execute(AddUser(user_id="dora", role="regisseur", team="west"))
    monkeypatch.undo()

    with pytest.raises(NotFound, match="dora"):
        server.session("dora")
    server.session("admin").execute(AddUser(user_id="dora", role="regisseur", team="west"))
    assert server.session("dora").actor.user_id == "dora"
