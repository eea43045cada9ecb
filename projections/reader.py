"""The read side: every query catches the views up, checks need-to-know, logs, then answers.

Order matters and is the same for every read: (1) catch up the projections; (2) decide
what this user may see; a refusal is logged and raised; (3) commit the access records of
every person whose data will be shown; only then (4) open sealed fields and return.
If step 3 fails, nothing is opened or returned (fail closed).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.case import Case, CaseStatus
from casusregie.domain.errors import NotFound, ValidationFailed
from casusregie.domain.roles import Role
from casusregie.domain.sealed import Sealed, person_key_id
from casusregie.domain.subject_request import RESTRICTION_GROUNDS
from casusregie.privacy_audit.need_to_know import (
    ERASED,
    RESTRICTED_FIELD,
    RESTRICTION,
    Opener,
    Refusal,
    case_visibility,
    keyring_opener,
)
from casusregie.projections.case_view import render_case, subjects_shown
from casusregie.projections.cases import CaseProjection
from casusregie.projections.registry import projections_for
from casusregie.projections.report import RequestDates, period_report
from casusregie.projections.requests import RequestProjection
from casusregie.projections.runner import ViewRunner
from casusregie.projections.search import DEFAULT_RESULTS, marking, matching_fields
from casusregie.projections.search import MAX_RESULTS as MAX_SEARCH_RESULTS
from casusregie.projections.search import queries as search_queries

REGIE = "regie-uitvoering"
RIGHTS = "rechten-betrokkenen"
VERANTWOORDING = "verantwoording"
MAX_HORIZON_DAYS = 3660  # ten years ahead is the longest plan anyone makes


def view_runner(app: Any) -> ViewRunner:
    """All projections of the store, in the order they are applied."""
    runner = app.__dict__.get("_view_runner")
    if runner is None:
        runner = ViewRunner(app, projections_for(app))
        app.__dict__["_view_runner"] = runner
    return runner


class Reader:
    """Queries for one session (one acting user)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.app = session.app
        self.runner = view_runner(self.app)
        self.cases: CaseProjection = next(p for p in self.runner.projections if isinstance(p, CaseProjection))
        self.open = keyring_opener(self.app.store.keyring)

    def case_state(self, ref: str) -> Case:
        found = self.session.refs.resolve(ref, "case")
        if found is None:
            raise NotFound(f"unknown case {ref}")
        if self.runner.behind:
            # The views could not catch up: who may see this case is decided on the case as
            # its events say now (the repository), never on a view that may be behind.
            return self.session.case(ref)
        with self.app.store.db.transaction(commit=False) as tx:
            case = self.cases.get(tx, found[0])
        if case is None:
            raise NotFound(f"unknown case {ref}")
        return case

    # --- queries ---------------------------------------------------------------------

    def case(self, ref: str, restriction_ground: str | None = None) -> dict[str, Any]:
        """The case view (dossier) as this user may see it.

        Data of a person whose processing is restricted (art. 18 AVG) is withheld and the
        refusal logged, unless the reader invokes a ground of art. 18(2), which is logged too.
        """
        self.runner.refresh()
        case = self.case_state(ref)
        visibility = case_visibility(self.session.actor, case, self.session.profile)
        if isinstance(visibility, Refusal):
            self.session.deny("case.show", REGIE, Action.READ, visibility.reason, case)
        assert not isinstance(visibility, Refusal)
        shown = subjects_shown(case, visibility)
        erased = self.erased_members(case)
        restricted = {m.person_id for m in case.members.values() if m.restricted and str(m.person_id) not in erased}
        reason, opener = "", self.open
        if restricted and restriction_ground is None:
            self.session.record_denial("case.show", REGIE, Action.READ, RESTRICTION, case.id, sorted(restricted))
            shown = [p for p in shown if p not in restricted]
            opener = self.hiding(restricted)
        elif restricted:
            reason = RESTRICTION_GROUNDS.get(restriction_ground or "", "")
            if not reason:
                raise ValidationFailed(
                    f"unknown ground {restriction_ground!r}; art. 18(2) grounds: {', '.join(RESTRICTION_GROUNDS)}"
                )
        self.session.log_read("case.show", REGIE, Action.READ, case.id, shown, reason=reason)
        view = render_case(case, opener, visibility, erased)
        view["version"] = case.version  # what the API's ETag and If-Match speak of
        return view

    def hiding(self, restricted: set[UUID]) -> Opener:
        """Opens fields as ``self.open`` does, but shows those of persons whose processing is restricted
        (art. 18 AVG) as ``[beperkt]``; a field older records hold as plain text is not a person's."""
        hidden = {person_key_id(p) for p in restricted}

        def opener(sealed: Sealed | str | None) -> Any:
            return RESTRICTED_FIELD if isinstance(sealed, Sealed) and sealed.key_id in hidden else self.open(sealed)

        return opener

    def erased_members(self, case: Case) -> frozenset[str]:
        """Members whose key was destroyed (one query for the whole household)."""
        keyring = self.app.store.keyring
        records = keyring.storage.get_many([person_key_id(m.person_id) for m in case.members.values()])
        return frozenset(
            str(m.person_id)
            for m in case.members.values()
            if (r := records.get(person_key_id(m.person_id))) is not None and r.is_shredded
        )

    def case_list(
        self, everyone: bool = False, closed: bool = False, after: list[Any] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The open cases this user may see, with the main resident's name (logged as a read).

        Closed and declined cases only with ``closed``: they are not today's work, and a list
        that held every case ever directed would grow (and log a read per household) for ever.
        A page (by case number: ``after`` the last one seen, at most ``limit``) logs the reads of
        the households on that page only.
        """
        actor = self.session.actor
        if actor.role not in (Role.REGISSEUR, Role.PARTNER, Role.MANAGER, Role.AUDITOR):
            self.session.deny("case.list", REGIE, Action.READ, f"a {actor.role} does not read case files")
        self.runner.refresh()
        where, params = self._candidates(everyone, closed)
        with self.app.store.db.transaction(commit=False) as tx:
            cases = self.cases.all_states(tx, where, params)
        listed: list[tuple[Case, bool]] = []  # (case, may its household's name be shown)
        for case in cases:
            visibility = case_visibility(actor, case, self.session.profile)
            if isinstance(visibility, Refusal):
                if everyone and actor.role == Role.REGISSEUR:
                    listed.append((case, False))
                continue
            listed.append((case, visibility.sees("members") and visibility.personal_data))
        if after is not None or limit is not None:
            listed.sort(key=lambda item: item[0].case_number)
            if after:
                listed = [item for item in listed if [item[0].case_number] > after]
            listed = listed[:limit]
        shown = [next(iter(c.members.values())).person_id for c, named in listed if named and c.members]
        self.session.log_read("case.list", REGIE, Action.SEARCH, None, shown)
        return [
            {
                "case": case.case_number,
                "status": str(case.status),
                "director": case.director,
                "team": case.team,
                "referred_on": case.referred_on.isoformat(),
                "household": self.household_name(case) if named else None,
                "open_escalations": len(case.open_escalations),
            }
            for case, named in listed
        ]

    def _candidates(self, everyone: bool, closed: bool) -> tuple[str, tuple[Any, ...]]:
        """A cheap filter on plain columns before the need-to-know check on each decoded case."""
        actor = self.session.actor
        conditions: list[str] = []
        params: list[Any] = []
        if not closed:
            conditions.append("status IN (?, ?)")
            params += [str(CaseStatus.REFERRED), str(CaseStatus.TAKEN_ON)]
        if actor.role == Role.REGISSEUR and not everyone:
            conditions.append("(director = ? OR (team <> '' AND team = ?))")
            params += [actor.user_id, actor.user.team]
        elif actor.role == Role.PARTNER:
            conditions.append("involved LIKE ?")
            params.append(f'%"{actor.organisation}"%')
        elif actor.role == Role.MANAGER:
            conditions.append("escalated = 1")
        return ("WHERE " + " AND ".join(conditions) if conditions else ""), tuple(params)

    def worklist(self, on: date, horizon_days: int = 14, everyone: bool = False) -> list[dict[str, Any]]:
        """Items due within ``horizon_days`` of ``on`` or overdue, for this user."""
        if not 0 <= horizon_days <= MAX_HORIZON_DAYS:
            raise ValidationFailed(f"the horizon is 0 to {MAX_HORIZON_DAYS} days, not {horizon_days}")
        self.runner.refresh()
        actor = self.session.actor
        until = date.fromordinal(min(on.toordinal() + horizon_days, date.max.toordinal())).isoformat()
        query = (
            "SELECT w.case_id, v.case_number, w.kind, w.ref, w.due_on, w.owner, w.director, w.what "
            "FROM regie_worklist w JOIN regie_case_views v ON v.case_id = w.case_id WHERE w.due_on <= ? "
        )
        params: list[Any] = [until]
        if actor.role == Role.REGISSEUR and not everyone:
            query += "AND (w.director = ? OR (w.team <> '' AND w.team = ?)) "
            params += [actor.user_id, actor.user.team]
        elif actor.role == Role.PARTNER:
            query += "AND w.owner = ? "
            params.append(actor.organisation)
        elif actor.role == Role.MANAGER:
            # escalations, and referrals that name no director: assigning those is the manager's (can_assign)
            query += "AND (w.kind = 'escalation' OR (w.kind = 'intake' AND COALESCE(w.director, '') = '')) "
        elif actor.role == Role.PRIVACY_OFFICER:
            return self._privacy_worklist(on, until)
        elif actor.role != Role.REGISSEUR:
            self.session.deny("worklist", REGIE, Action.READ, f"a {actor.role} has no case worklist")
        query += "ORDER BY w.due_on, v.case_number, w.kind"
        with self.app.store.db.transaction(commit=False) as tx:
            rows = tx.execute(query, params).fetchall()
        self.session.log_read("worklist", REGIE, Action.READ, None, [])
        today = on.isoformat()
        return [
            {
                "case": r[1],
                "kind": r[2],
                "ref": r[3],
                "due_on": r[4],
                "owner": r[5],
                "director": r[6],
                "what": r[7],
                "overdue": r[4] < today,
            }
            for r in rows
        ]

    def _privacy_worklist(self, on: date, until: str) -> list[dict[str, Any]]:
        """Requests due or overdue, and recipients still to be informed (art. 19 AVG)."""
        with self.app.store.db.transaction(commit=False) as tx:
            rows = RequestProjection.due(tx, until)
        self.session.log_read("worklist", RIGHTS, Action.READ, None, [])
        today = on.isoformat()
        return [
            {
                "case": ref,
                "kind": kind,
                "ref": ref,
                "due_on": due,
                "owner": self.session.profile.organisation_id,
                "director": None,
                "what": what,
                "overdue": due < today,
            }
            for kind, ref, due, what in rows
        ]

    def caseload(self) -> list[dict[str, Any]]:
        """Open cases per director and status (no personal data)."""
        self.runner.refresh()
        actor = self.session.actor
        if actor.role not in (Role.REGISSEUR, Role.MANAGER):
            self.session.deny("caseload", VERANTWOORDING, Action.READ, f"a {actor.role} has no caseload view")
        with self.app.store.db.transaction(commit=False) as tx:
            rows = tx.execute(
                "SELECT COALESCE(director, '(unassigned)'), team, status, count(*) FROM regie_case_views "
                "GROUP BY director, team, status ORDER BY 1, 2, 3"
            ).fetchall()
        self.session.log_read("caseload", VERANTWOORDING, Action.READ, None, [])
        load: dict[tuple[str, str], dict[str, int]] = {}
        for director, team, status, count in rows:
            load.setdefault((director, team), {})[status] = int(count)
        return [
            {"director": d, "team": t, "by_status": s, "open": s.get("referred", 0) + s.get("taken-on", 0)}
            for (d, t), s in load.items()
        ]

    def report(self, start: date, end: date) -> dict[str, Any]:
        """Aggregate figures for a period; managers and directors."""
        return self.report_series([(start, end)])[0]

    def report_series(self, periods: list[tuple[date, date]]) -> list[dict[str, Any]]:
        """The report of each period (for a chart over time), read and logged once."""
        self.runner.refresh()
        actor = self.session.actor
        if actor.role not in (Role.REGISSEUR, Role.MANAGER, Role.AUDITOR):
            self.session.deny("report", VERANTWOORDING, Action.READ, f"a {actor.role} does not read reports")
        with self.app.store.db.transaction(commit=False) as tx:
            cases = self.cases.all_states(tx)
            # the data-subject requests' dates only (no reference, no person): their deadlines are counted too
            requests = [RequestDates.from_row(r[1], r[3], r[4], r[5], r[7]) for r in RequestProjection.all(tx)]
        self.session.log_read("report", VERANTWOORDING, Action.READ, None, [])
        profile = self.session.profile
        return [
            period_report(
                cases,
                start,
                end,
                profile.organisation_id,
                requests=requests,
                result_target_months=profile.result_target_months,
            )
            for start, end in periods
        ]

    def search(
        self,
        text: str | None = None,
        address: str | None = None,
        person: str | None = None,
        limit: int = DEFAULT_RESULTS,
    ) -> dict[str, Any]:
        """Cases this user may see whose visible text matches; the case and the fields that matched, no text.

        Directors search their own and their team's cases, partners the cases their organisation
        is involved in, managers the escalated cases, each in what the case view shows them (see
        ``projections.search``). The persons of the cases found are logged as searched (NEN 7513);
        the query itself is not logged (it may be a name).
        """
        wanted = search_queries(text, address, person)  # bad input is refused before anything is read or logged
        if not 1 <= limit <= MAX_SEARCH_RESULTS:
            raise ValidationFailed(f"the limit is 1 to {MAX_SEARCH_RESULTS} cases, not {limit}")
        actor = self.session.actor
        if actor.role not in (Role.REGISSEUR, Role.PARTNER, Role.MANAGER):
            self.session.deny("case.search", REGIE, Action.SEARCH, f"a {actor.role} does not search case files")
        self.runner.refresh()
        where, params = self._candidates(everyone=False, closed=True)
        with self.app.store.db.transaction(commit=False) as tx:
            cases = self.cases.all_states(tx, where, params)
        found: list[tuple[Case, list[UUID], list[str]]] = []
        for case in sorted(cases, key=lambda c: c.case_number):
            visibility = case_visibility(actor, case, self.session.profile)
            if isinstance(visibility, Refusal):
                continue
            restricted = {m.person_id for m in case.members.values() if m.restricted}
            doc = render_case(case, marking(self.hiding(restricted), frozenset({ERASED, RESTRICTED_FIELD})), visibility)
            fields = matching_fields(doc, wanted)
            if fields:
                shown = [p for p in subjects_shown(case, visibility) if p not in restricted]
                found.append((case, shown, fields))
        more = len(found) > limit
        found = found[:limit]
        self.session.log_read("case.search", REGIE, Action.SEARCH, None, [p for _, shown, _ in found for p in shown])
        return {
            "cases": [
                {
                    "case": case.case_number,
                    "status": str(case.status),
                    "director": case.director,
                    "referred_on": case.referred_on.isoformat(),
                    "matched": fields,
                }
                for case, _, fields in found
            ],
            "more": more,
        }

    def household_name(self, case: Case) -> str:
        main = next(iter(case.members.values()), None)
        return "" if main is None else str(self.open(main.name))
