"""Everything a store still lets someone with its keys read: for proving that erasure is complete.

Every table is read; rows encrypted with the store's row key are decrypted as the application
would (events, snapshots, case views, trail details), and every sealed field found in them is
opened with whatever key still exists. What cannot be opened is, by construction, erased.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from helpers import World

from casusregie.domain.errors import StoreProblem
from casusregie.domain.sealed import Sealed
from casusregie.privacy_audit.envelope import DecryptionFailed, canonical, decrypt

ROW_TABLES = {"stored_events", "stored_snapshots"}


def _tables(world: World) -> list[str]:
    with world.store.db.transaction(commit=False) as tx:
        if tx.dialect == "sqlite":
            rows = tx.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        else:
            rows = tx.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            ).fetchall()
    return sorted(r[0] for r in rows if not str(r[0]).startswith("sqlite_"))


def _sealed_in(value: Any) -> list[Sealed]:
    """Every sealed field (as the transcoder writes it) inside a decoded JSON body."""
    found: list[Sealed] = []
    if isinstance(value, dict):
        if value.get("_type_") == "sealed":
            key_id, field, blob = str(value["_data_"]).split("|", 2)
            return [Sealed(key_id, field, base64.b64decode(blob))]
        for item in value.values():
            found += _sealed_in(item)
    elif isinstance(value, list):
        for item in value:
            found += _sealed_in(item)
    return found


def _opened(world: World, body: bytes) -> list[str]:
    texts = [body.decode("utf-8", "replace")]
    try:
        data = json.loads(body)
    except ValueError:
        return texts
    for sealed in _sealed_in(data):
        try:
            texts.append(json.dumps(world.store.keyring.unseal(sealed), ensure_ascii=False))
        except StoreProblem:
            continue  # a destroyed key: erased
    if isinstance(data, dict) and isinstance(data.get("purpose"), dict):  # a trail row's sealed purpose
        purpose = data["purpose"]
        try:
            sealed = Sealed(purpose["key_id"], purpose["field"], base64.b64decode(purpose["blob"]))
            texts.append(json.dumps(world.store.keyring.unseal(sealed), ensure_ascii=False))
        except (StoreProblem, KeyError):
            pass
    return texts


def readable(world: World) -> str:
    """All text that can still be read from every table of the store, with its keys."""
    mapper = world.app.mapper
    row_key = world.store.keyring.key(world.store.row_key_id)
    out: list[str] = []
    for table in _tables(world):
        with world.store.db.transaction(commit=False) as tx:
            if tx.dialect == "sqlite":
                names = [r[1] for r in tx.execute(f"PRAGMA table_info({table})").fetchall()]
            else:
                names = [
                    r[0]
                    for r in tx.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                        "AND table_name = ? ORDER BY ordinal_position",
                        (table,),
                    ).fetchall()
                ]
            rows = tx.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall()
        for row in rows:
            record = dict(zip(names, row, strict=True))
            out += [str(v) for v in record.values() if not isinstance(v, bytes)]
            if table in ROW_TABLES or table == "regie_case_views":
                stored = StoredEvent(
                    originator_id=UUID(str(record.get("originator_id") or record["case_id"])),
                    originator_version=int(record.get("originator_version") or record["version"]),
                    topic=str(record["topic"]),
                    state=bytes(record["state"]),
                )
                try:
                    out += _opened(world, mapper.decrypt_body(stored))
                except StoreProblem:
                    out.append("<undecryptable row>")
            elif table == "regie_trail":
                aad = canonical("regie-trail-v1", world.store.store_id, record["entry_id"])
                try:
                    out += _opened(world, decrypt(row_key, bytes(record["details"]), aad))
                except DecryptionFailed:
                    out.append("<undecryptable trail row>")
            else:
                out += [bytes(v).decode("latin-1") for v in record.values() if isinstance(v, bytes)]
    return "\n".join(out)
