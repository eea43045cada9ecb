"""Benchmarks: casusregie next to the bare eventsourcing library, on SQLite and PostgreSQL.

Run ``python -m benchmarks`` (``--quick`` for a smoke run). Every figure is measured side
by side in one process, interleaving the compared variants, and reported as a ratio
project/bare, because absolute times on a shared machine are noise.
"""
