"""Two case directors changing the same case at the same moment (PostgreSQL; SQLite too)."""

from __future__ import annotations

import threading
from pathlib import Path

from helpers import World, make_world
from scenarios import day, taken_on_case

from casusregie.adapters.config import Settings
from casusregie.adapters.store import open_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.plan import SetGoal
from casusregie.commands.session import Session
from casusregie.domain.errors import Conflict
from casusregie.domain.roles import Actor


def test_concurrent_changes_one_wins_the_other_gets_a_clear_conflict_and_retry_succeeds(
    store_location: str, backend: str, tmp_path: Path
) -> None:
    settings = Settings(store=store_location, key_dir=tmp_path / "keys", checkpoint_dir=None, config_file=None)
    world: World = make_world(settings)
    case = taken_on_case(world)

    # Two processes' worth of state: two stores, two apps, both load the case at version v.
    sessions = []
    for user in ("anna", "carla"):
        store = open_store(settings)
        app = RegieApplication(store)
        user_obj = app.setup().user(user)
        assert user_obj is not None
        sessions.append(Session(app, Actor(user_obj)))
    loaded = [s.case(case) for s in sessions]
    assert loaded[0].version == loaded[1].version

    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def change(i: int, text: str) -> None:
        session = sessions[i]
        case_obj = loaded[i]
        sealed = session.seal(f"case-{case_obj.id}", "goal", text)
        case_obj.set_goal("overlast", sealed, day(10), session.actor.user_id, session.profile)
        barrier.wait()
        try:
            session.commit(SetGoal(case=case, life_domain="overlast", description=text), case_obj, case=case_obj)
            outcomes[i] = "ok"
        except Conflict as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=change, args=(i, t)) for i, t in enumerate(("rust", "schuldhulp"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "str"]
    loser = outcomes.index(next(o for o in outcomes if isinstance(o, Conflict)))
    assert "someone else changed this record" in str(outcomes[loser])
    # The loser retries the command from scratch and succeeds; nothing is lost.
    text = ("rust", "schuldhulp")[loser]
    sessions[loser].execute(SetGoal(case=case, life_domain="overlast", description=text, on=day(10)))
    final = world.app.repository.get(loaded[0].id)
    goals = sorted(world.store.keyring.unseal(g.description) for g in final.goals.values())
    assert goals == ["rust", "schuldhulp"]
    for s in sessions:
        s.app.store.close()
    world.store.close()
