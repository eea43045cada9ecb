"""`regie document …`: documents (stukken) attached to a case, and copies for an access request.

A file is read into memory only, up to the store's size limit, and refused (one line, exit 1,
nothing stored) when it is missing, empty, a folder, a device or pipe, or too large; the size
is checked before the content is read. The content then goes through the same command model
as the API's (base64 in ``content_base64``). Content leaves the store only through the safe
file writer (a fresh 0600 file, never through a symlink, never over an existing file).
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import click

from casusregie.adapters.cli.common import (
    Context,
    day,
    json_option,
    on_option,
    pass_ctx,
    print_json,
    report,
    with_dates,
)
from casusregie.adapters.cli.output import echo, folding_table
from casusregie.adapters.cli.paths import InputPath, OutputPath
from casusregie.adapters.cli.refs import REF
from casusregie.adapters.files import check_output_path, write_private
from casusregie.commands import documents
from casusregie.commands.outcome import failure_recorded
from casusregie.domain.access import Action
from casusregie.domain.document import DocumentType
from casusregie.domain.errors import ValidationFailed


def register(root: click.Group) -> None:
    root.add_command(document)


def read_upload(path: str, limit: int) -> bytes:
    """The file's content, in memory only; refused before reading when it is no regular file or too large."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ValidationFailed(f"{path}: no such file") from None
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ValidationFailed(f"{path} is a folder; give a file")
        if not stat.S_ISREG(info.st_mode):
            raise ValidationFailed(f"{path} is not a regular file (a device, pipe or socket); give a file")
        if info.st_size == 0:
            raise ValidationFailed(f"{path} is empty")
        if info.st_size > limit:
            raise ValidationFailed(f"{path} is {info.st_size} bytes; the limit of one document is {limit} bytes")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb", buffering=0) as handle:
        try:
            content = _read_at_most(handle, limit + 1)
        except OSError as exc:
            raise ValidationFailed(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if not content:
        raise ValidationFailed(f"{path} is empty")
    if len(content) > limit:  # it grew while it was read
        raise ValidationFailed(f"{path} is larger than the limit of one document ({limit} bytes)")
    return content


def _read_at_most(handle: Any, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        part = handle.read(min(left, 1024 * 1024))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


@click.group()
def document() -> None:
    """Documents of a case (stukken): a ruling (vonnis, beschikking), an agreement, a police report.

    Stored encrypted in the store under the key of the person they are about (or the case's),
    in chunks, never in plain text on disk; erased with the person. The case's director and
    team see every document; a partner only those from its own organisation.
    """


@document.command("attach")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("file", metavar="FILE", type=InputPath(dir_okay=True, readable=False, path_type=str))
@click.option(
    "--type",
    "kind",
    required=True,
    type=click.Choice([t.value for t in DocumentType]),
    help="Kind of document (soort stuk).",
)
@click.option("--dated", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Date of the document (YYYY-MM-DD).")
@click.option(
    "--source",
    required=True,
    metavar="ORG_OR_TEXT",
    help="Where it came from (bron): an organisation id of the profile (e.g. politie), or a description.",
)
@click.option("--about", metavar="PERSON", type=REF, help="The household member it is about; default the household.")
@click.option("--title", help="A short title or description (sealed like other free text).")
@on_option
@json_option
@pass_ctx
def document_attach(
    ctx: Context,
    case_ref: str,
    file: str,
    kind: str,
    dated: Any,
    source: str,
    about: str | None,
    title: str | None,
    on: Any,
    as_json: bool,
) -> None:
    """Attach a file to a case (stuk toevoegen); the size limit is `document_max_bytes` (default 20 MiB)."""
    content = read_upload(file, ctx.settings().document_max_bytes)
    fields = with_dates(
        case=case_ref,
        type=kind,
        dated=day(dated),
        source=source,
        about=about,
        title=title,
        on=day(on),
        content_base64=base64.b64encode(content).decode("ascii"),
    )
    del content
    report(ctx, ctx.run(documents.AttachDocument(**fields)), as_json)


@document.command("list")
@click.argument("case_ref", metavar="CASE", type=REF)
@json_option
@pass_ctx
def document_list(ctx: Context, case_ref: str, as_json: bool) -> None:
    """The documents of a case you may see: type, date, source, title (never the content). Logged."""
    found = documents.list_documents(ctx.session(), case_ref)
    if as_json:
        print_json(found)
        return
    if not found["documents"]:
        ctx.console.print(f"case {found['case']} has no documents you may see")
        return
    table = folding_table("document", "type", "dated", "source", "about", "title", "bytes", "attached", "withdrawn")
    for d in found["documents"]:
        table.add_row(
            d["document"],
            d["type"],
            d["dated"],
            str(d["source"]),
            d["about"] or "huishouden",
            "-" if d["title"] is None else str(d["title"]),
            str(d["size"]),
            f"{d['attached_on']} by {d['attached_by']}",
            "-" if d["withdrawn_on"] is None else f"{d['withdrawn_on']}: {d['withdraw_reason']}",
        )
    ctx.console.print(table)


def _new_file(out: str) -> Path:
    """The output file, checked before anything is read or logged: a usable name that does not exist yet."""
    target = check_output_path(out)
    try:
        taken = os.path.lexists(target)
    except (OSError, ValueError):
        taken = False  # the writer says what is wrong with it
    if taken:
        raise ValidationFailed(f"{target} already exists; refusing to overwrite it")
    return target


def _deliver(ctx: Context, fetched: documents.Fetched, target: Path, as_json: bool) -> None:
    session = ctx.session()
    with failure_recorded(
        session, fetched.name, fetched.activity, Action.EXPORT, fetched.case_id, fetched.subjects, prefix="writing: "
    ):
        written = write_private(target, fetched.content, replace=False)
    number = fetched.document.document_id
    message = f"wrote document {number} of case {fetched.case_number} ({len(fetched.content)} bytes) to {written}"
    if as_json:
        print_json({"message": message, "document": number, "out": str(written), "size": len(fetched.content)})
    else:
        echo(message)


@document.command("get")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("document_ref", metavar="DOCUMENT", type=REF)
@click.option("--out", required=True, type=OutputPath(dir_okay=False), help="The new file to write it to.")
@json_option
@pass_ctx
def document_get(ctx: Context, case_ref: str, document_ref: str, out: str, as_json: bool) -> None:
    """Write a document's content to a new file (0600). A read of personal data: logged first."""
    target = _new_file(out)  # before the read is logged: a bad path reads nothing
    _deliver(ctx, documents.read_document(ctx.session(), case_ref, document_ref), target, as_json)


@document.command("withdraw")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("document_ref", metavar="DOCUMENT", type=REF)
@click.option("--reason", required=True, help="Why it is withdrawn (e.g. attached to the wrong case).")
@on_option
@json_option
@pass_ctx
def document_withdraw(ctx: Context, case_ref: str, document_ref: str, reason: str, on: Any, as_json: bool) -> None:
    """Withdraw a document (intrekken): it stays in the file and in access answers, marked withdrawn."""
    command = documents.WithdrawDocument(**with_dates(case=case_ref, document=document_ref, reason=reason, on=day(on)))
    report(ctx, ctx.run(command), as_json)


@document.command("copy-for-request")
@click.argument("request_ref", metavar="REQUEST", type=REF)
@click.argument("document_ref", metavar="DOCUMENT", type=REF)
@click.option("--out", required=True, type=OutputPath(dir_okay=False), help="The new file to write the copy to.")
@json_option
@pass_ctx
def document_copy(ctx: Context, request_ref: str, document_ref: str, out: str, as_json: bool) -> None:
    """A copy of a document for a data subject's access request (AVG art. 15(3)); privacy officers only.

    Only a document that is an item of the request's answer (`regie request items`) and is not
    withheld (a household document only once released). Logged.
    """
    target = _new_file(out)
    _deliver(ctx, documents.copy_for_request(ctx.session(), request_ref, document_ref), target, as_json)
