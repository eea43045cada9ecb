"""Export of the access log in the shape of the Logboek Dataverwerkingen (LDV).

One JSON line per record: the processing itself (root span, with the first data subject
touched) and one child span per further data subject, linked by ``trace_id`` and
``parent_span_id``, as
OpenTelemetry spans with attributes in the ``dpl.`` namespace. The data subject id is a
pseudonym (HMAC of the internal person id under the store's index key): the export can be
joined with other logs of this store but does not reveal who the person is. User
identities stay in the internal access log, linked by the same trace and span ids.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from typing import Any

from casusregie import __version__
from casusregie.domain.access import Outcome
from casusregie.projections.access import AccessRow

SUBJECT_ID_TYPE = "casusregie-pseudoniem"


def pseudonym(key: bytes, subject_id: str) -> str:
    return hmac.new(key, f"ldv:{subject_id}".encode(), hashlib.sha256).hexdigest()


def _time(value: str) -> str:
    return value.replace("+00:00", "Z")


def _status(outcome: str) -> str:
    # LDV: Error is for technical failures only; a refusal is a correctly handled processing.
    return "Error" if outcome == Outcome.ERROR else "Ok"


def records(
    traces: Iterable[tuple[AccessRow, list[tuple[str, str, str]]]], key: bytes, organisation: str
) -> Iterator[dict[str, Any]]:
    """LDV records for the given traces: the root span (with the first data subject, if any), then the
    child spans of the further data subjects."""
    resource = {"service.name": "casusregie", "service.version": __version__, "dpl.core.organisation": organisation}
    for trace, children in traces:
        base = {
            "trace_id": trace.trace_id,
            "name": trace.name,
            "start_time": _time(trace.started_at),
            "end_time": _time(trace.ended_at),
            "status": _status(trace.outcome),
            "resource": resource,
            "dpl.core.processing_activity_id": trace.activity,
        }
        attributes = {"dpl.casusregie.action": trace.action, "dpl.casusregie.outcome": trace.outcome}
        root_subject = next((s for s in children if s[0] == trace.span_id), None)
        yield (
            base
            | {"span_id": trace.span_id, "parent_span_id": None, "attributes": attributes}
            | ({} if root_subject is None else _subject(key, root_subject[1]))
        )
        for span_id, subject_id, _ in children:
            if span_id != trace.span_id:
                yield (
                    base
                    | {"span_id": span_id, "parent_span_id": trace.span_id, "attributes": attributes}
                    | (_subject(key, subject_id))
                )


def _subject(key: bytes, subject_id: str) -> dict[str, str]:
    return {"dpl.core.data_subject_id": pseudonym(key, subject_id), "dpl.core.data_subject_id_type": SUBJECT_ID_TYPE}


def lines(
    traces: Iterable[tuple[AccessRow, list[tuple[str, str, str]]]], key: bytes, organisation: str
) -> Iterator[str]:
    for record in records(traces, key, organisation):
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":"))
