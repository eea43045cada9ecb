"""The case view for people at a terminal (rich), from the same document `--json` prints."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


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
        columns = ["person", "name", "role", "minor", *(["born", "bsn", "address"] if identity else [])]
        table = Table(*columns, title="household (huishouden)")
        for m in doc["members"]:
            flags = " [erased]" if m["erased"] else (" [restricted]" if m["restricted"] else "")
            row = [m["person"], _t(m["name"]) + flags, m["role"], "yes" if m["minor"] else "no"]
            if identity:
                row += [_t(m.get("birth_date")), _t(m.get("bsn")), _t(m.get("address"))]
            table.add_row(*row)
        console.print(table)
    if "reason" in doc:
        console.print(f"reason: {_t(doc['reason'])}")
        for domain, text in doc.get("problems", {}).items():
            console.print(f"  {domain}: {_t(text)}")
    if doc.get("assessment"):
        a = doc["assessment"]
        console.print(
            f"intake: {len(a['criteria_met'])} of {a['threshold']} criteria ({_t(a['criteria_met'])})"
            + (f"; acute: {_t(a['acute_reason'])}" if a["acute"] else "")
        )
    if doc.get("corporation_consent"):
        c = doc["corporation_consent"]
        console.print(
            f"corporation consent ({c['corporation']}): asked {c['requested_on']}, due {_t(c['due_on'])}, "
            f"answer {_t(c['answer'])}"
        )
    for r in doc.get("requests", []):
        console.print(
            f"request {r['request']} to {r['partner']} ({r['requested_on']}, due {_t(r['due_on'])}) about "
            f"{_t(r['subjects'])}: {_t(r['categories'])} — {r['status']}"
        )
        console.print(f"  purpose: {r['purpose']}; basis: {r['legal_basis']}")
        for item in r["items"]:
            console.print(f"  {item['category']} ({item['subject']}): {_t(item['content'])}")
        if r["status"] == "declined":
            console.print(f"  declined: {_t(r['decline_reason'])}")
    if doc.get("decision"):
        d = doc["decision"]
        console.print(
            f"decision: {'taken on' if d['taken_on'] else 'declined'} on {d['on']} by {d['by']}"
            + (f"; advice: {_t(d['advice'])}" if d["advice"] else "")
        )
    if doc.get("letter"):
        letter = doc["letter"]
        console.print(
            f"residents' letter: sent {letter['on']}"
            if letter["sent"]
            else f"no letter ({letter['ground']}): {_t(letter['motivation'])}"
        )
    if doc.get("meetings"):
        for m in doc["meetings"]:
            console.print(
                f"{m['kind']} {m['meeting']}: {m['scheduled_for']} with {_t(m['participants'])}"
                + (f"; held {m['held_on']}: {_t(m['minutes'])}" if m["held_on"] else "")
            )
    if doc.get("plan") and (doc["plan"]["goals"] or doc["plan"]["measures"]):
        p = doc["plan"]
        console.print(f"plan revision {p['revision']}", style="bold")
        for g in p["goals"]:
            console.print(f"  goal {g['goal']} ({g['life_domain']}): {_t(g['description'])}")
        if p["measures"]:
            table = Table("measure", "domain", "owner", "description", "due", "status")
            for m in p["measures"]:
                table.add_row(
                    m["measure"], m["life_domain"], m["owner"], _t(m["description"]), m["due_on"], m["status"]
                )
            console.print(table)
    for e in doc.get("evaluations", []):
        console.print(f"evaluation {e['on']}: {_t(e['summary'])}")
    for e in doc.get("escalations", []):
        console.print(
            f"escalation {e['escalation']} level {e['level']} ({e['level_name']}) {e['raised_on']}: "
            f"{_t(e['reason'])}" + (f" -> {e['resolved_on']}: {_t(e['outcome'])}" if e["resolved_on"] else "")
        )
    for c in doc.get("closures", []):
        console.print(
            f"closed {c['closed_on']}: {c['outcome']} (neighbours {c['judgement_neighbours']}, partners "
            f"{c['judgement_partners']}); aftercare: {_t(c['aftercare'])}; handover: {_t(c['handover_to'])}"
        )
    if doc.get("deadlines") and doc["status"] not in ("closed", "declined"):
        due = {k: v for k, v in doc["deadlines"].items() if v}
        if due:
            console.print("next deadlines: " + ", ".join(f"{k} {v}" for k, v in due.items()))
