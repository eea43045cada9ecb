"""Creating and opening a store: database, key files and the metadata that ties them.

A store is one SQLite file or one PostgreSQL schema, plus a key folder outside it
(``<key_dir>/<store id>/``) holding the master key and the checkpoint signing key.
The database records only *which* master key wraps its data keys, never the key itself.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg.sql import SQL, Identifier

from casusregie.adapters import document_store, merkle_log
from casusregie.adapters.backends import database_of, open_factory
from casusregie.adapters.config import Settings
from casusregie.adapters.keyfile import (
    MasterKey,
    new_master_key,
    write_master_key,
    write_secret_file,
)
from casusregie.adapters.keystore import KeyRecord, SqlKeyStorage
from casusregie.adapters.location import StoreLocation, parse_location
from casusregie.adapters.lookup import RefIndex
from casusregie.adapters.person_index import INDEX_KEY_ID, PersonIndex
from casusregie.adapters.request_ids import RequestIds
from casusregie.adapters.sql import Database
from casusregie.domain.errors import StoreProblem, ValidationFailed
from casusregie.privacy_audit import checkpoint
from casusregie.privacy_audit.key_generations import ledger_rows, moment
from casusregie.privacy_audit.key_hierarchy import Keyring
from casusregie.privacy_audit.rotation import master_key_on_open, settle_rotation

FORMAT_VERSION = "4"  # 2: the tree's position -> case index (regie_merkle_cases); 3: request ids, shredded index
# 4: the encrypted chunks of documents (regie_document_chunks)
META_DDL = "CREATE TABLE IF NOT EXISTS regie_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"


@dataclass(frozen=True)
class KeyPaths:
    """The key folder of one store."""

    folder: Path

    @property
    def master(self) -> Path:
        return self.folder / "master.key"

    @property
    def signing(self) -> Path:
        return self.folder / "signing.key"

    @property
    def verifier(self) -> Path:
        return self.folder / "signing.vkey"


@dataclass
class Store:
    """An opened store: database handle, keyring and metadata."""

    location: StoreLocation
    factory: Any
    db: Database
    keys: SqlKeyStorage
    keyring: Keyring
    meta: dict[str, str]
    key_paths: KeyPaths
    checkpoint_dir: Path
    created: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def store_id(self) -> str:
        return self.meta["store_id"]

    @property
    def row_key_id(self) -> str:
        return self.meta["row_key_id"]

    @cached_property
    def refs(self) -> RefIndex:
        return RefIndex(self.db)

    @cached_property
    def request_ids(self) -> RequestIds:
        return RequestIds(self.db)

    @property
    def persons(self) -> PersonIndex:
        return PersonIndex(self.db, lambda: self.keyring.key(INDEX_KEY_ID))

    @property
    def name(self) -> str:
        return self.location.display()

    @property
    def origin(self) -> str:
        """The checkpoint origin line: names this log for outside verifiers."""
        return f"casusregie/{self.store_id}"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.factory.close()


# --- existence --------------------------------------------------------------------------


def _pg_connect(location: StoreLocation) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(location.dsn, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreProblem(f"cannot connect to PostgreSQL at {location.display()}: {first}") from None


def _pg_store_exists(location: StoreLocation) -> bool:
    with _pg_connect(location) as conn:
        row = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'regie_meta'",
            (location.schema,),
        ).fetchone()
    return row is not None


def store_exists(location: StoreLocation) -> bool:
    if location.is_postgres:
        return _pg_store_exists(location)
    assert location.path is not None
    return location.path.exists()


# --- creating -----------------------------------------------------------------------------


def _checkpoint_dir(settings: Settings, store_id: str, key_paths: KeyPaths) -> Path:
    base = settings.checkpoint_dir or key_paths.folder / "checkpoints"
    return base if settings.checkpoint_dir is None else base / store_id


def create_store(settings: Settings) -> Store:
    """Create an empty store with fresh keys. Refuses to touch anything that exists."""
    if not settings.store:
        raise ValidationFailed("no store given: use --store PATH|DSN, REGIE_STORE or a config file")
    location = parse_location(settings.store)
    if store_exists(location):
        raise ValidationFailed(f"a store already exists at {location.display()}; refusing to overwrite it")
    store_id = f"st-{secrets.token_hex(8)}"
    key_paths = KeyPaths(settings.key_dir / store_id)
    master = new_master_key(store_id)
    created_schema = False
    try:
        write_master_key(key_paths.master, master)
        signer, verifier = checkpoint.generate_signing_key(f"casusregie/{store_id}")
        write_secret_file(key_paths.signing, signer + "\n")
        key_paths.verifier.write_text(verifier + "\n", encoding="ascii")
        if location.is_postgres:
            with _pg_connect(location) as conn:
                conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(location.schema)))
            created_schema = True
        else:
            assert location.path is not None
            location.path.parent.mkdir(parents=True, exist_ok=True)
            # Owner-only from the first byte; SQLite gives its -wal and -shm files the same mode.
            os.close(os.open(location.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        store = _assemble(location, settings, master, key_paths, meta=None, create=True)
        _initialise_tables(store, master, store_id)
        return store
    except BaseException:
        _undo_create(location, key_paths, created_schema)
        raise


def _initialise_tables(store: Store, master: MasterKey, store_id: str) -> None:
    row_key_id = "rows-1"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    ledger = ledger_rows(master.key_id, moment())  # before the first data key is made
    store.meta.update(store_id=store_id, row_key_id=row_key_id)
    with store.db.transaction(commit=True) as tx:
        tx.execute(META_DDL)
        store.keys.create_table(tx)
        merkle_log.create_tables(store.db, tx)
        RefIndex.create_table(tx)
        PersonIndex.create_table(tx)
        RequestIds.create_table(tx)
        document_store.create_table(store.db, tx)
    extras = [
        store.keyring.create(row_key_id, purpose="rows", subject="store"),
        store.keyring.create(INDEX_KEY_ID, purpose="index", subject="store"),
    ]
    with store.db.transaction(commit=True) as tx:
        for extra in extras:
            extra(tx)
        tx.executemany(
            "INSERT INTO regie_meta (name, value) VALUES (?, ?)",
            [
                ("store_id", store_id),
                ("format_version", FORMAT_VERSION),
                ("created_at", now),
                ("row_key_id", row_key_id),
                *ledger.items(),
            ],
        )
    store.meta.update(format_version=FORMAT_VERSION, created_at=now, **ledger)


def discard_new_store(store: Store) -> None:
    """Remove a store this process has just created (its first events failed): nothing stays behind."""
    store.close()
    _undo_create(store.location, store.key_paths, created_schema=True)


def _undo_create(location: StoreLocation, key_paths: KeyPaths, created_schema: bool) -> None:
    with contextlib.suppress(Exception):
        shutil.rmtree(key_paths.folder)
    if location.is_postgres and created_schema:
        with contextlib.suppress(Exception), _pg_connect(location) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(location.schema)))
    elif location.path is not None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(location.path) + suffix).unlink()


# --- opening -------------------------------------------------------------------------------


def _assemble(
    location: StoreLocation,
    settings: Settings,
    master: MasterKey,
    key_paths: KeyPaths,
    meta: dict[str, str] | None,
    *,
    create: bool = False,
) -> Store:
    try:
        factory = open_factory(location, create=create)
    except (PersistenceError, OSError, psycopg.Error) as exc:
        place = "" if location.path is None else where_it_cannot_be_written(location.path)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreProblem(f"cannot open store {location.display()}: {place or first}") from None
    db = database_of(factory)
    keys = SqlKeyStorage(db)
    store_id = (meta or {}).get("store_id", master.store_id)
    keyring = Keyring(
        store_id,
        master,
        keys,
        KeyRecord,
        location.display(),
        settings.key_cache_size,
        reload_master=lambda: master_key_on_open(key_paths.master),
    )
    return Store(
        location=location,
        factory=factory,
        db=db,
        keys=keys,
        keyring=keyring,
        meta=dict(meta or {}),
        key_paths=key_paths,
        checkpoint_dir=_checkpoint_dir(settings, store_id, key_paths),
        created=create,
        extra={document_store.MAX_BYTES: settings.document_max_bytes},
    )


def _migrate(store: Store) -> None:
    """Bring a store made by an older version up to this one, once, in one transaction."""
    found = store.meta.get("format_version", "1")
    if found == FORMAT_VERSION:
        return
    if not found.isdigit() or int(found) > int(FORMAT_VERSION):
        raise StoreProblem(
            f"store {store.name} has format {found}; this casusregie reads format {FORMAT_VERSION}: upgrade casusregie"
        )
    with store.db.transaction(commit=True) as tx:
        tx.serialise("casusregie migration")
        store.keys.create_table(tx)  # format 3: the index on shredded_at
        merkle_log.create_tables(store.db, tx)  # adds the position -> case index; older positions stay unindexed
        RequestIds.create_table(tx)
        document_store.create_table(store.db, tx)  # format 4: documents
        tx.execute("UPDATE regie_meta SET value = ? WHERE name = 'format_version'", (FORMAT_VERSION,))
    store.meta["format_version"] = FORMAT_VERSION


def read_meta(location: StoreLocation) -> dict[str, str]:
    """The store's metadata, read without keys; clear errors for a missing or alien store."""
    if not store_exists(location):
        raise StoreProblem(f"no store at {location.display()}: create one with `regie init`")
    if location.is_postgres:
        with _pg_connect(location) as conn:
            rows = conn.execute(
                SQL("SELECT name, value FROM {}.regie_meta").format(Identifier(location.schema))
            ).fetchall()
        return dict(rows)
    assert location.path is not None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{location.path}?mode=ro", uri=True)) as conn:
            return dict(conn.execute("SELECT name, value FROM regie_meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise StoreProblem(_unreadable(location.path, exc)) from None


def _unreadable(path: Path, exc: sqlite3.DatabaseError) -> str:
    """Why an SQLite store cannot be read: a file that is no store, or a place it cannot be used from."""
    text = str(exc).lower()
    if "not a database" in text or "no such table" in text or "malformed" in text:
        return f"{path} is not a casusregie store"
    place = where_it_cannot_be_written(path)
    if place:
        return f"cannot open store {path}: {place}"
    return f"cannot open store {path}: {str(exc).strip() or type(exc).__name__}"


def where_it_cannot_be_written(path: Path) -> str:
    """'' if the folder of ``path`` can take writes; else why not (read-only file system, full disk, permissions).

    SQLite must write beside the store (its -wal and -shm files) even to read it, and casusregie
    logs every read: a store on a read-only or full disk cannot be used until that is mended.
    """
    folder = path.parent
    try:
        stats = os.statvfs(folder)
    except OSError as exc:
        return f"its folder cannot be reached ({exc.strerror})"
    if stats.f_flag & os.ST_RDONLY:
        return (
            f"it lies on a read-only file system ({folder}); casusregie writes even to read (every read is "
            "logged), so make it writable or copy the store and its keys elsewhere"
        )
    if stats.f_bavail == 0:
        return f"the disk holding it is full ({folder}); free some space and try again"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.R_OK | os.W_OK)):
        return f"this user may not write to it or its folder ({folder}); casusregie writes even to read"
    return ""


def open_store(settings: Settings) -> Store:
    """Open an existing store and check that the key file opens it."""
    if not settings.store:
        raise ValidationFailed("no store given: use --store PATH|DSN, REGIE_STORE or a config file")
    location = parse_location(settings.store)
    meta = read_meta(location)
    store_id = meta.get("store_id")
    if not store_id:
        raise StoreProblem(f"{location.display()} is not a casusregie store (no store id)")
    key_paths = KeyPaths(settings.key_dir / store_id)
    master = master_key_on_open(key_paths.master)
    if master.store_id != store_id:
        raise StoreProblem(
            f"key file {key_paths.master} belongs to store {master.store_id}, not to {store_id} at {location.display()}"
        )
    store = _assemble(location, settings, master, key_paths, meta)
    _migrate(store)
    settle_rotation(store)  # a key rotation cut short is completed or undone: the key in force is in master.key
    store.keyring.key(store.row_key_id)  # fails clearly now if the master key is wrong
    return store
