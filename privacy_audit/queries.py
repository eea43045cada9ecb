"""Privacy reads: the disclosure trail, finding a person, the access log and its LDV export.

Same discipline as every read: catch up, check who may see it, log (audit first), answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from casusregie.adapters.person_index import INDEX_KEY_ID
from casusregie.commands.authorization import directs
from casusregie.domain.access import Action
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.findable import terms
from casusregie.domain.roles import Role
from casusregie.privacy_audit import access_records, ldv
from casusregie.privacy_audit.need_to_know import opener_for, reader_visibility
from casusregie.projections.access import AccessRow
from casusregie.projections.reader import Reader
from casusregie.projections.trail import TrailProjection

RIGHTS = "rechten-betrokkenen"
AUDIT = "toezicht-audit"
MAX_LOG_LINES = 100_000
REGIE = "regie-uitvoering"


class PrivacyReader(Reader):
    """Trail, person search and access log for privacy officers, auditors and directors."""

    @property
    def trails(self) -> TrailProjection:
        return next(p for p in self.runner.projections if isinstance(p, TrailProjection))

    def _person_refs(self, ids: set[UUID]) -> dict[UUID, str]:
        with self.app.store.db.transaction(commit=False) as tx:
            rows = tx.fetch_in(
                "SELECT person_id, ref FROM regie_persons WHERE person_id {values}",
                sorted(map(str, ids)),
            )
        return {UUID(r[0]): r[1] for r in rows}

    def trail(
        self, *, person: str | None = None, case: str | None = None, organisation: str | None = None
    ) -> list[dict[str, Any]]:
        """Disclosure trail entries for a person, a case or a partner organisation."""
        if not (person or case or organisation):
            raise ValidationFailed("say whose trail: a person, a case or a partner organisation")
        self.runner.refresh()
        actor = self.session.actor
        person_id = self.session.person(person)[0] if person else None
        case_state = self.case_state(case) if case else None
        allowed = actor.role == Role.PRIVACY_OFFICER or (
            actor.role == Role.AUDITOR and "disclosure_trail" in self.session.profile.auditors.sees
        )
        activity = AUDIT if actor.role == Role.AUDITOR else RIGHTS
        if actor.role == Role.REGISSEUR and case_state is not None:
            allowed, activity = directs(actor, case_state), REGIE
        if actor.role == Role.PARTNER and organisation == actor.organisation and not person and not case:
            allowed, activity = True, REGIE
        if not allowed:
            self.session.deny(
                "trail", activity, Action.READ, f"a {actor.role} may not read this disclosure trail", case_state
            )
        with self.app.store.db.transaction(commit=False) as tx:
            entries = self.trails.query(
                tx, person=person_id, case=case_state.id if case_state else None, organisation=organisation
            )
        subjects = {e.person_id for e in entries}
        self.session.log_read("trail", activity, Action.READ, case_state.id if case_state else None, subjects)
        refs = self._person_refs(subjects)
        open_ = opener_for(reader_visibility(actor, self.session.profile, "disclosure_trail"), self.open)
        return [e.as_dict(refs.get(e.person_id), open_) for e in entries]

    def find(self, name: str | None, born: date | None, bsn: str | None) -> list[dict[str, Any]]:
        """Search persons by name, date of birth and/or BSN through the blind index."""
        actor = self.session.actor
        if actor.role not in (Role.PRIVACY_OFFICER, Role.REGISSEUR):
            self.session.deny("person.find", RIGHTS, Action.SEARCH, f"a {actor.role} may not search persons")
        pairs = [p for p in terms(name, born, bsn) if not (p[0] == "name" and born is not None)]
        if not pairs:
            raise ValidationFailed("search by name with date of birth, or by BSN")
        self.runner.refresh()
        found = self.app.store.persons.find(pairs)
        with self.app.store.db.transaction(commit=False) as tx:
            rows = {
                UUID(r[0]): r
                for r in tx.fetch_in(
                    "SELECT p.person_id, p.ref, v.case_number, v.status, v.director, v.team, p.erased "
                    "FROM regie_persons p JOIN regie_case_views v ON v.case_id = p.case_id WHERE p.person_id {values}",
                    sorted({str(p) for p in found}),
                )
            }
        if actor.role == Role.REGISSEUR:  # directors only find people in their own and their team's cases
            found = [
                p
                for p in found
                if p in rows and (rows[p][4] == actor.user_id or (rows[p][5] and rows[p][5] == actor.user.team))
            ]
        activity = RIGHTS if actor.role == Role.PRIVACY_OFFICER else REGIE
        self.session.log_read("person.find", activity, Action.SEARCH, None, found)
        return [
            {"person": rows[p][1], "case": rows[p][2], "case_status": rows[p][3], "erased": bool(rows[p][6])}
            for p in found
            if p in rows
        ]

    # --- the access log ---------------------------------------------------------------

    def _log_reader_allowed(self, what: str) -> None:
        actor = self.session.actor
        if actor.role == Role.AUDITOR and "access_log" in self.session.profile.auditors.sees:
            return
        if actor.role in (Role.PRIVACY_OFFICER, Role.BEHEERDER):
            return
        self.session.deny(what, AUDIT, Action.EXPORT, f"a {actor.role} may not read the access log")

    def access_log(self, case: str | None = None, user: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """The internal access log (with user identities): auditors, privacy officers, beheerder.

        Read from the access records themselves (authenticated, in the tamper-evident log),
        never from the view that indexes them, which a database writer could edit.
        """
        self._log_reader_allowed("log.show")
        if not 1 <= limit <= MAX_LOG_LINES:
            raise ValidationFailed(f"--limit is 1 to {MAX_LOG_LINES}, not {limit}")
        case_id = self.case_state(case).id if case else None
        self.session.log_read("log.show", AUDIT, Action.READ, case_id, [])
        rows = []
        for event, kids in access_records.newest_first_events(self.app):
            trace = AccessRow.of(event)
            if (case_id is None or trace.case_id == str(case_id)) and (user is None or trace.actor == user):
                authentication = access_records.authentication_of(event)
                rows.append({**trace.__dict__, "subjects": [s for _, s, _ in kids], "authentication": authentication})
                if len(rows) == limit:
                    break
        return rows[::-1]

    def ldv_lines(self, since: date | None = None) -> Iterator[str]:
        """The access log as LDV JSON lines (logged as an export before anything is produced), from the records."""
        self._log_reader_allowed("log.export")
        self.session.log_read("log.export", AUDIT, Action.EXPORT, None, [])
        key = self.app.store.keyring.key(INDEX_KEY_ID)
        moment = None if since is None else datetime.combine(since, time.min, tzinfo=UTC)
        return ldv.lines(access_records.oldest_first(self.app, moment), key, self.session.profile.organisation_id)
