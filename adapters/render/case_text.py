"""The case view for people at a terminal (rich), from the same document `--json` prints."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from casusregie.adapters.cli.output import folding_table


def _t(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, list):
        return ", ".join(_t(v) for v in value) or "-"
    return str(value)


def render_case_text(console: Console, doc: dict[str, Any]) -> None:
    console.print(
        f"case {doc['case']}  status: {doc['status']}  director: {_t(doc['director'])} "
        f"(team {_t(doc['team'])})  referred {doc['referred_on']} by {doc['referring_org']}"
    )
    console.print(f"involved: {_t(doc['involved'])}")
    if "members" in doc:
        identity = any("birth_date" in m for m in doc["members"])  # a partner's view holds names only
        households = any("household" in m for m in doc["members"])
        contacts = any("contact" in m for m in doc["members"])
        columns = [
            "person",
            "name",
            "role",
            *(["household"] if households else []),
            "minor",
            *(["born", "bsn", "address"] if identity else []),
            *(["contact"] if contacts else []),
        ]
        table = folding_table(*columns, title="household and network (huishouden en netwerk)")
        for m in doc["members"]:
            flags = " [erased]" if m["erased"] else (" [restricted]" if m["restricted"] else "")
            row = [m["person"], _t(m["name"]) + flags, m["role"]]
            row += [_t(m.get("household"))] if households else []
            row += ["yes" if m["minor"] else "no"]
            if identity:
                row += [_t(m.get("birth_date")), _t(m.get("bsn")), _t(m.get("address"))]
            row += [_t(m.get("contact"))] if contacts else []
            table.add_row(*row)
        console.print(table)
    for a in doc.get("ad_hoc_organisations", []):
        console.print(
            f"involved ad hoc: {a['organisation']} ({a['name']}) {a['on']} by {a['by']}; basis: {a['legal_basis']}"
        )
    if "reason" in doc:
        console.print(f"referred by: {_t(doc.get('referring_worker'))} ({doc['referring_org']})")
        console.print(f"reason: {_t(doc['reason'])}")
        for domain, text in doc.get("problems", {}).items():
            console.print(f"  {domain}: {_t(text)}")
        for r in doc.get("resolved_problems", []):
            console.print(
                f"  {r['life_domain']} (resolved {r['resolved_on']} by {r['by']}): {_t(r['description'])}"
                + (f"; {_t(r['note'])}" if r["note"] else "")
            )
        for h in doc.get("problem_history", []):
            if h["change"] != "resolved":  # the resolution is shown above
                before = "was" if h["change"] == "updated" else "new"
                console.print(f"  {h['life_domain']} {h['change']} {h['on']} by {h['by']} ({before}: {_t(h['text'])})")
        if doc.get("home_corporation"):
            console.print(f"home of corporation: {doc['home_corporation']}")
    _consent(console, doc)
    for h in doc.get("home_visits", []):
        what = "invited to come (uitnodiging)" if h["invited"] else "home visit (huisbezoek)"
        console.print(f"{what} {h['on']} by {h['by']}: {_t(h['note'])}")
    if doc.get("assessment"):
        a = doc["assessment"]
        verdict = "meets" if a["meets"] else ("set aside: acute" if a["acute"] else "does not meet")
        console.print(
            f"intake {a['on']} by {a['by']}: {len(a['criteria_met'])} of {a['threshold']} criteria "
            f"({_t(a['criteria_met'])}), {verdict}" + (f"; acute reason: {_t(a['acute_reason'])}" if a["acute"] else "")
        )
    for r in doc.get("requests", []):
        console.print(
            f"request {r['request']} to {r['partner']} ({r['requested_on']}, due {_t(r['due_on'])}) about "
            f"{_t(r['subjects'])}: {_t(r['categories'])} — {r['status']}"
            + (f" {r['answered_on']} by {_t(r['answered_by'])}" if r.get("answered_on") else "")
        )
        console.print(
            f"  purpose: {_t(r['purpose'])}; basis: {r['legal_basis']}"
            + (f"; partner's basis: {r['partner_legal_basis']}" if r.get("partner_legal_basis") else "")
        )
        if r.get("om_consent"):
            console.print("  OM consent: " + ", ".join(f"{k} {_t(v)}" for k, v in r["om_consent"].items()))
        for item in r["items"]:
            console.print(f"  {item['category']} ({item['subject']}): {_t(item['content'])}")
        if r["status"] == "declined":
            console.print(f"  declined: {_t(r['decline_reason'])}")
    if doc.get("decision"):
        d = doc["decision"]
        console.print(
            f"decision: {'taken on' if d['taken_on'] else 'declined'}, {d['on']}, by {d['by']}"
            + (f" (due {d['due_on']})" if d.get("due_on") else "")
            + (f"; advice: {_t(d['advice'])}" if d["advice"] else "")
        )
        if d.get("late_reason"):
            console.print(f"  late: {_t(d['late_reason'])}")
    if doc.get("letter"):
        letter = doc["letter"]
        console.print(
            f"residents' letter: sent {letter['on']} by {letter['by']}"
            if letter["sent"]
            else f"no letter ({letter['ground']}, {letter['on']} by {letter['by']}): {_t(letter['motivation'])}"
        )
    for letter in doc.get("partner_letters", []):
        console.print(
            f"letter {letter['kind']} written {letter['on']} by {letter['by']} for {_t(letter['to'])}"
            + (f", naming {_t(letter['persons'])}" if letter["persons"] else "")
        )
    for m in doc.get("meetings", []):
        console.print(
            f"{m['kind']} {m['meeting']}"
            + (f" (at casusoverleg {m['conference']})" if m.get("conference") else "")
            + f": {m['scheduled_for']} with {_t(m['participants'])}"
            + (f"; held {m['held_on']}, attended by {_t(m['attended'])}" if m["held_on"] else "")
        )
        if m["held_on"] and m["minutes"] is not None:
            console.print(f"  minutes: {_t(m['minutes'])}")
        if m.get("persons"):
            console.print(f"  taking part: {_t(m['persons'])}")
    if doc.get("plan"):
        _plan(console, doc["plan"])
    for e in doc.get("evaluations", []):
        console.print(f"evaluation {e['on']} by {e['by']}: {_t(e['summary'])}")
    for e in doc.get("escalations", []):
        console.print(
            f"escalation {e['escalation']} level {e['level']} ({e['level_name']}) {e['raised_on']} "
            f"by {e['raised_by']}: {_t(e['reason'])}"
            + (f" -> {e['resolved_on']} by {_t(e['resolved_by'])}: {_t(e['outcome'])}" if e["resolved_on"] else "")
        )
    _closures(console, doc)
    for e in doc.get("journal", []):
        how = (
            f" {e['channel']}" + (f" with {_t(e['with'])}" if e["with"] else "") if e["kind"] == "contact" else " note"
        )
        about = f", about {e['about']}" if e["about"] else ""
        marks = (f" (corrects {e['corrects']})" if e["corrects"] else "") + (
            f" (corrected by {e['corrected_by']})" if e["corrected_by"] else ""
        )
        console.print(f"journal {e['entry']} {e['on']}{how}{about} by {e['by']}{marks}: {_t(e['text'])}")
    for d in doc.get("documents", []):
        about = f", about {d['about']}" if d["about"] else ""
        title = f": {_t(d['title'])}" if d["title"] is not None else ""
        withdrawn = f" (withdrawn {d['withdrawn_on']}: {_t(d['withdraw_reason'])})" if d["withdrawn_on"] else ""
        console.print(
            f"document {d['document']} {d['type']} dated {d['dated']} from {_t(d['source'])}{about}, "
            f"{d['size']} bytes, attached {d['attached_on']} by {d['attached_by']}{withdrawn}{title}"
        )
    if doc.get("deadlines") and doc["status"] not in ("closed", "declined"):
        due = {k: v for k, v in doc["deadlines"].items() if v}
        if due:
            console.print("next deadlines: " + ", ".join(f"{k} {v}" for k, v in due.items()))


def _consent(console: Console, doc: dict[str, Any]) -> None:
    consent = doc.get("consent")
    if consent and consent["required"]:
        state = (
            f"given {consent['given_on']}"
            if consent["given_on"]
            else f"refused {consent['refused_on']}"
            if consent["refused_on"]
            else f"awaited (due {_t(consent['due_on'])})"
        )
        console.print(f"residents' consent: {state}")
    if doc.get("corporation_consent"):
        c = doc["corporation_consent"]
        answer = {True: "yes", False: "no", None: "awaited"}[c["answer"]]
        console.print(
            f"corporation consent ({c['corporation']}): asked {c['requested_on']}, due {_t(c['due_on'])}, "
            f"answer {answer}" + (f" {c['answered_on']} by {_t(c['answered_by'])}" if c.get("answered_on") else "")
        )


def _plan(console: Console, p: dict[str, Any]) -> None:
    if not (p["goals"] or p["measures"] or p["revisions"]):
        return
    console.print(f"plan revision {p['revision']}", style="bold")
    for r in p["revisions"]:
        agreed = (
            f"; client agreed {r['client_agreed_on']}{' (signed)' if r['client_signed'] else ''}"
            if r["client_agreed_on"]
            else ""
        )
        console.print(f"  revision {r['revision']} {r['on']}: {_t(r['reason'])}{agreed}")
    for g in p["goals"]:
        console.print(f"  goal {g['goal']} ({g['life_domain']}, {g['set_on']}): {_t(g['description'])}")
    if p["measures"]:
        table = folding_table("measure", "domain", "owner", "about", "description", "agreed", "due", "status")
        for m in p["measures"]:
            table.add_row(
                m["measure"],
                m["life_domain"],
                m["owner"],
                _t(m["subject"]) if m["subject"] else "huishouden",
                _t(m["description"]),
                m["agreed_on"],
                m["due_on"],
                m["status"],
            )
        console.print(table)
        for m in p["measures"]:
            for h in m["history"]:
                console.print(f"  {m['measure']} {h['on']} {h['status']} by {h['by']}: {_t(h['note'])}")


def _closures(console: Console, doc: dict[str, Any]) -> None:
    # closures and reopenings in the order they happened: a case that came back shows both
    events = [("closed", c["closed_on"], c) for c in doc.get("closures", [])]
    events += [("reopened", r["on"], r) for r in doc.get("reopenings", [])]
    for kind, _, x in sorted(events, key=lambda e: (e[1], e[0] == "reopened")):
        if kind == "closed":
            console.print(
                f"closed {x['closed_on']} by {x['closed_by']}: {x['outcome']} "
                f"(neighbours {x['judgement_neighbours']}, partners {x['judgement_partners']}); "
                f"aftercare: {_t(x['aftercare'])}; handover: {_t(x['handover_to'])}"
                + (f"; note: {_t(x['note'])}" if x.get("note") else "")
            )
            if x.get("concerns"):
                console.print(f"  closed despite: {'; '.join(x['concerns'])}; reason: {_t(x['despite'])}")
            if x.get("aftercare_contacted_on"):
                console.print(f"  aftercare contact {x['aftercare_contacted_on']}: {_t(x['aftercare_contact_note'])}")
            elif x.get("aftercare_due"):
                console.print(f"  aftercare contact due {x['aftercare_due']}")
        else:
            console.print(f"reopened {x['on']} by {x['by']}: {_t(x['reason'])}")
