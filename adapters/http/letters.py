"""Case letters over HTTP: ``POST /cases/{case}/letters/{kind}`` gives the PDF (or Markdown).

The same request model, checks and letter service as `regie letter` and the web page: only the
case's director and team, the print logged, and a letter for partners recorded as a disclosure
(which is why this is a POST, not a GET).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Request, Response
from pydantic import create_model

from casusregie.adapters.http.endpoints import REF, CallerDep, in_its_turn, session_for
from casusregie.adapters.render.letter_service import NAME, write_case_letter
from casusregie.commands.base import Input
from casusregie.commands.letters import LetterKind, LetterRequest

#: The body: the request's fields less those the path gives.
LetterBody: type[Input] = create_model(  # type: ignore[call-overload]
    "LetterBody",
    __base__=Input,
    __doc__="The letter's options; each one only for the kinds that use it.",
    **{n: (info.annotation, info) for n, info in LetterRequest.model_fields.items() if n not in ("case", "kind")},
)

_BINARY = {"schema": {"type": "string", "format": "binary"}}


def register(app: FastAPI, prefix: str) -> None:
    @app.post(
        prefix + "/cases/{case}/letters/{kind}",
        tags=["cases"],
        operation_id="case-letter-write",
        response_class=Response,
        responses={200: {"content": {"application/pdf": _BINARY, "text/markdown": {"schema": {"type": "string"}}}}},
    )
    @in_its_turn
    def write_letter(
        request: Request,
        who: CallerDep,
        case: Annotated[str, Path(pattern=REF, max_length=64)],
        kind: Annotated[LetterKind, Path()],
        body: LetterBody,  # type: ignore[valid-type]
    ) -> Response:
        """A case letter (the case's director and team; logged as a print, a letter for partners as a disclosure)."""
        fields: dict[str, Any] = body.model_dump(exclude_unset=True)
        asked = LetterRequest(case=case, kind=kind, **fields)  # the model's own rules (an option for another kind)
        with session_for(request, who, NAME) as session:
            written = write_case_letter(session, asked)
        extension, media = ("md", "text/markdown; charset=utf-8") if asked.markdown else ("pdf", "application/pdf")
        return Response(
            written.body,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="{kind}-{written.view["case"]}.{extension}"',
                "Cache-Control": "no-store",
            },
        )
