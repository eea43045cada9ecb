"""Reminders by e-mail (`regie notify run`): what a real SMTP server on 127.0.0.1 receives.

A deadline in someone's worklist becomes one mail to the user responsible, once at each stage
(due soon, overdue); a second run sends nothing new. The mail holds the kind of task, its due
date and a link, never a name, a BSN, a case number or the reason for the referral. A mail
server that cannot be reached is one error line, exit 1, and nothing recorded as sent, so the
next run sends it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from casusregie.adapters.config import resolve_settings
from casusregie.adapters.store import open_store
from casusregie.commands import notify as reminders
from casusregie.commands.application import RegieApplication
from casusregie.domain.errors import StoreProblem
from casusregie.domain.notification import ReminderLog

NAME = "Karel de Vries"
BSN = "111222333"
REASON = "Burenruzie over de schutting en geluidsoverlast"
PROBLEM = "lawaai tot diep in de nacht"
REQUESTER = "Mr. Jozef Bakker-Opdam"
ADDRESSES = {
    "anna": "anna@gemeente.example",
    "pol": "wijkagent@politie.example",
    "piet": "piet@mitros.example",
    "pim": "privacy@gemeente.example",
}


@dataclass
class Mailbox:
    """What the SMTP server received: (envelope recipients, raw message)."""

    port: int
    received: list[tuple[list[str], bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # addresses answered with 550
    take_at_most: int | None = None  # after this many messages, answer 421 (the server's trouble of the moment)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 " + address + ": no such mailbox"  # servers quote the address: we must not repeat it
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.take_at_most is not None and len(self.received) >= self.take_at_most:
            return "421 4.3.2 system not accepting messages"
        self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def take(self) -> list[tuple[list[str], bytes]]:
        taken, self.received[:] = list(self.received), []
        return taken

    def to(self, user: str) -> list[EmailMessage]:
        return [
            message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
            for rcpt, raw in self.received
            if rcpt == [ADDRESSES[user]]
        ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def write_config(folder: Path, server: int, public_url: str | None = "https://regie.example.nl", **mail: Any) -> None:
    """A regie.toml in the working folder (the cli fixture runs there), with [mail] and perhaps [web]."""
    settings = {"host": "127.0.0.1", "port": server, "security": "none", "from": "casusregie@gemeente.example"}
    settings.update(mail)
    lines = ["[mail]"]
    for key, value in settings.items():
        lines.append(f"{key} = {value!r}".replace("'", '"') if isinstance(value, str) else f"{key} = {value}")
    if public_url:
        lines += ["", "[web]", 'client_id = "regie-web"', f'public_url = "{public_url}"']
    (folder / "regie.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def ok(cli: Any, *args: str, user: str | None = None) -> Any:
    result = cli(*args, user=user)
    assert result.code == 0, result.err
    return result


def notify(cli: Any, date: str, *more: str) -> Any:
    return ok(cli, "notify", "run", "--date", date, *more)


def setup_store(cli: Any) -> str:
    """anna directs a case referred by mitros on Monday 5 January 2026 (intake decision due the 10th)."""
    ok(cli, "init", "--profile", "utrecht", "--admin", "admin")
    ok(cli, "user", "add", "anna", "--role", "regisseur", "--team", "west", "--email", ADDRESSES["anna"], user="admin")
    ok(cli, "user", "add", "bert", "--role", "regisseur", "--team", "west", user="admin")  # no address: no mail
    ok(cli, "user", "add", "piet", "--role", "partner", "--org", "mitros", user="admin")
    ok(cli, "user", "email", "piet", ADDRESSES["piet"], user="admin")
    ok(cli, "user", "add", "pol", "--role", "partner", "--org", "politie", "--email", ADDRESSES["pol"], user="admin")
    ok(cli, "user", "add", "pim", "--role", "privacy-officer", "--email", ADDRESSES["pim"], user="admin")
    return str(
        ok(
            cli,
            "case", "refer", "--from", "mitros", "--worker", "Jantje Smit", "--reason", REASON,
            "--problem", f"overlast={PROBLEM}", "--member", f"name={NAME};born=1980-01-02;bsn={BSN}",
            "--corporation-home", "mitros", "--director", "anna", "--on", "2026-01-05", "--json",
            user="piet",
        ).json()["case"]
    )  # fmt: skip


def assert_nothing_personal(raw: bytes, case: str) -> None:
    text = raw.decode("utf-8", errors="replace")
    body = message_from_bytes(raw, policy=policy.default).get_body().get_content()  # type: ignore[union-attr]
    for secret in (NAME, "Vries", BSN, REASON, PROBLEM, "Jantje", REQUESTER, case):
        assert secret not in text, secret
        assert secret not in body, secret


def test_the_director_is_reminded_once_before_and_once_after_the_intake_deadline(
    cli: Any, mailbox: Mailbox, tmp_path: Path
) -> None:
    write_config(tmp_path, mailbox.port)
    case = setup_store(cli)
    # Tuesday the 6th: the deadline (Saturday the 10th) is more than two working days away.
    assert "no reminders due" in notify(cli, "2026-01-06").out
    assert mailbox.take() == []

    # Thursday the 8th: within two working days.
    out = notify(cli, "2026-01-08").out
    assert "anna: 1 due-soon (sent)" in out
    mails = mailbox.to("anna")
    assert len(mails) == 1, [r for r, _ in mailbox.received]
    mail = mails[0]
    assert mail["To"] == ADDRESSES["anna"]
    assert mail["From"] == "casusregie@gemeente.example"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Content-Language"] == "nl"
    assert str(mail["Message-ID"]).strip().startswith("<herinnering.")
    assert str(mail["Message-ID"]).strip().endswith("@gemeente.example>")
    body = mail.get_body().get_content()  # type: ignore[union-attr]
    assert "besluit over een aanmelding (uiterlijk 2026-01-10)" in body
    assert "https://regie.example.nl/werkvoorraad" in body
    assert "binnenkort" in mail["Subject"]
    for _rcpt, raw in mailbox.received:
        assert_nothing_personal(raw, case)
    assert "bert" not in {r[0] for r, _ in mailbox.received}  # no address, no mail
    first_id = mail["Message-ID"]
    mailbox.take()

    # Run again, the same day and the next: nothing new.
    assert "no reminders due" in notify(cli, "2026-01-08").out
    assert "no reminders due" in notify(cli, "2026-01-09").out
    assert mailbox.take() == []

    # Monday the 12th: the deadline has passed. One "overdue" mail, then silence again.
    notify(cli, "2026-01-12")
    mails = mailbox.to("anna")
    assert len(mails) == 1
    overdue = mails[0]
    assert "verstreken" in overdue["Subject"]
    assert "besluit over een aanmelding (termijn was 2026-01-10)" in overdue.get_body().get_content()  # type: ignore[union-attr]
    assert overdue["Message-ID"] != first_id
    for _rcpt, raw in mailbox.take():
        assert_nothing_personal(raw, case)
    notify(cli, "2026-01-13")
    assert mailbox.take() == []

    # The runs are in the access log as the system's, and no address is anywhere in it.
    log = ok(cli, "log", "show", "--json", user="pim")
    runs = [e for e in log.json() if e.get("name") == "notify.run"]
    assert runs
    assert all(e.get("actor", e.get("by")) == "system:notify" for e in runs), runs[:1]
    assert not any(address in log.out for address in ADDRESSES.values())


def test_partners_get_their_own_deadlines_and_the_privacy_officer_the_inzage_deadline(
    cli: Any, mailbox: Mailbox, tmp_path: Path
) -> None:
    write_config(tmp_path, mailbox.port)
    case = setup_store(cli)
    ok(cli, "case", "ask-corporation", case, "--on", "2026-01-06", user="anna")  # mitros answers by the 9th
    ok(
        cli,
        "info", "request", case, "--partner", "politie", "--purpose", "zicht op meldingen", "--basis", "convenant",
        "--category", "politie.meldingen", "--on", "2026-01-06",
        user="anna",
    )  # fmt: skip
    ok(
        cli,
        "request", "register", "--kind", "access", "--name", NAME, "--born", "1980-01-02",
        "--requester-name", REQUESTER, "--received", "2026-01-05", "--identity-check", "paspoort gezien",
        user="pim",
    )  # fmt: skip
    notify(cli, "2026-01-07")
    piet = mailbox.to("piet")
    assert len(piet) == 1
    assert "toestemming van de woningcorporatie (uiterlijk 2026-01-09)" in piet[0].get_body().get_content()  # type: ignore[union-attr]
    pol = mailbox.to("pol")
    assert len(pol) == 1
    text = pol[0].get_body().get_content()  # type: ignore[union-attr]
    assert "informatieverzoek beantwoorden (uiterlijk 2026-01-09)" in text
    assert "toestemming" not in text  # the corporation's task is mitros's, not the police's
    # The partners' tasks are theirs, not the director's; her intake decision (the 10th) is not near yet.
    assert mailbox.to("anna") == []
    assert mailbox.to("pim") == []  # the inzage deadline (5 February) is weeks away
    for _rcpt, raw in mailbox.take():
        assert_nothing_personal(raw, case)

    notify(cli, "2026-02-03")  # two working days before the one-month term of art. 12(3) AVG ends
    pim = mailbox.to("pim")
    assert len(pim) == 1
    text = pim[0].get_body().get_content()  # type: ignore[union-attr]
    assert "inzageverzoek beantwoorden (uiterlijk 2026-02-05)" in text
    assert "https://regie.example.nl/verzoeken" in text
    for _rcpt, raw in mailbox.take():
        assert_nothing_personal(raw, case)
    notify(cli, "2026-02-03")
    assert mailbox.to("pim") == []


def test_an_unreachable_mail_server_is_one_line_and_exit_1_and_nothing_is_recorded(
    cli: Any, mailbox: Mailbox, tmp_path: Path
) -> None:
    setup_store(cli)
    write_config(tmp_path, free_port())  # nobody listens there
    failed = cli("notify", "run", "--date", "2026-01-08")
    assert failed.code == 1
    assert failed.err.count("\n") == 1
    assert failed.err.startswith("regie: error: the mail server 127.0.0.1:")
    assert "nothing was sent" in failed.err
    assert "Traceback" not in failed.err

    write_config(tmp_path, mailbox.port)
    notify(cli, "2026-01-08")
    assert len(mailbox.to("anna")) == 1  # the failed run recorded nothing as sent


def test_a_dry_run_sends_and_records_nothing(cli: Any, mailbox: Mailbox, tmp_path: Path) -> None:
    write_config(tmp_path, mailbox.port)
    setup_store(cli)
    dry = notify(cli, "2026-01-08", "--dry-run", "--json").json()
    assert dry["dry_run"] is True
    [planned] = [m for m in dry["mails"] if m["user"] == "anna"]
    assert planned["items"] == [
        {"kind": "intake", "task": "besluit over een aanmelding", "due_on": "2026-01-10", "stage": "due-soon"}
    ]
    assert ADDRESSES["anna"] not in str(dry)
    assert mailbox.take() == []

    real = notify(cli, "2026-01-08", "--json").json()
    assert real["sent"] == len(real["mails"]) >= 1
    assert [m["message_id"] for m in real["mails"] if m["user"] == "anna"] == [planned["message_id"]]
    assert len(mailbox.to("anna")) == 1


def test_without_a_public_url_the_mail_says_where_to_look(cli: Any, mailbox: Mailbox, tmp_path: Path) -> None:
    write_config(tmp_path, mailbox.port, public_url=None, notice_days=0)
    setup_store(cli)
    notify(cli, "2026-01-09")  # notice_days = 0: not yet, the deadline is tomorrow
    assert mailbox.take() == []
    notify(cli, "2026-01-10")
    [mail] = mailbox.to("anna")
    body = mail.get_body().get_content()  # type: ignore[union-attr]
    assert "regie worklist" in body
    assert "https://" not in body


def test_an_address_taken_away_gets_no_more_mail(cli: Any, mailbox: Mailbox, tmp_path: Path) -> None:
    write_config(tmp_path, mailbox.port)
    setup_store(cli)
    result = ok(cli, "user", "email", "anna", "--remove", user="admin")
    assert ADDRESSES["anna"] not in result.out
    notify(cli, "2026-01-08")
    assert mailbox.to("anna") == []
    assert cli("user", "email", "anna", "not-an-address", user="admin").code == 1
    assert cli("user", "email", "anna", user="admin").code == 2
    refused = cli("user", "email", "anna", ADDRESSES["anna"], user="piet")
    assert refused.code == 1
    assert "beheerder" in refused.err


@pytest.mark.parametrize(
    ("mail", "code", "says"),
    [
        (None, 1, "no [mail] section"),
        ({"port": "twenty-five"}, 1, "[mail] port"),
        ({"security": "smoke-signals"}, 1, "[mail] security"),
        ({"username": "regie"}, 1, "username and password_file go together"),
        ({"username": "regie", "password_file": "missing.txt", "security": "starttls"}, 1, "cannot be read"),
        ({"colour": "blue"}, 1, "[mail] colour"),
        ({"notice_days": -1}, 1, "[mail] notice_days"),
    ],
)
def test_bad_mail_settings_are_one_line_and_exit_1(
    cli: Any, tmp_path: Path, mail: dict[str, Any] | None, code: int, says: str
) -> None:
    ok(cli, "init", "--profile", "utrecht", "--admin", "admin")
    if mail is None:
        (tmp_path / "regie.toml").write_text("", encoding="utf-8")
    else:
        write_config(tmp_path, free_port(), **mail)
    result = cli("notify", "run")
    assert result.code == code, result.err
    assert says in result.err
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err


def test_a_bad_date_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    write_config(tmp_path, free_port())
    result = cli("notify", "run", "--date", "2026-13-01")
    assert result.code == 2
    assert "Traceback" not in result.err


def test_the_password_is_read_from_its_own_file_and_never_shown(cli: Any, tmp_path: Path) -> None:
    ok(cli, "init", "--profile", "utrecht", "--admin", "admin")
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret-Wachtwoord\n", encoding="utf-8")
    secret.chmod(0o644)
    write_config(tmp_path, free_port(), username="regie", password_file="smtp-password")
    loose = cli("notify", "run")
    assert loose.code == 1
    assert "chmod 600" in loose.err
    secret.chmod(0o600)
    down = cli("notify", "run")  # the file is fine now; nobody listens on the port
    assert down.code == 1
    assert "cannot be used" in down.err
    for result in (loose, down):
        assert "s3cret" not in result.err + result.out


def test_reminder_mails_carry_no_personal_data_of_the_case_in_any_header(
    cli: Any, mailbox: Mailbox, tmp_path: Path
) -> None:
    write_config(tmp_path, mailbox.port)
    case = setup_store(cli)
    notify(cli, "2026-01-08")
    [(_rcpt, raw)] = [(r, m) for r, m in mailbox.received if r == [ADDRESSES["anna"]]]
    headers = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert case not in headers
    assert NAME not in headers
    assert headers.count("Message-ID:") == 1


def test_a_crash_between_sending_and_recording_sends_the_same_message_again_once(
    cli: Any, mailbox: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At-least-once: the mail the server took but the store did not record goes out again, with the
    same Message-ID (so a mail system that deduplicates shows it once); then it is recorded, and that is that."""
    write_config(tmp_path, mailbox.port)
    setup_store(cli)
    record = reminders._record

    def lost(*args: Any) -> None:
        raise StoreProblem("store went away while saving")

    monkeypatch.setattr(reminders, "_record", lost)
    crashed = cli("notify", "run", "--date", "2026-01-08")
    assert crashed.code == 1
    assert "store went away" in crashed.err
    [first] = mailbox.to("anna")

    monkeypatch.setattr(reminders, "_record", record)
    notify(cli, "2026-01-08")
    [again] = mailbox.to("anna")[1:]
    assert again["Message-ID"] == first["Message-ID"]
    mailbox.take()
    notify(cli, "2026-01-08")
    assert mailbox.take() == []


def test_a_refused_address_is_named_by_user_and_tried_again_next_run(
    cli: Any, mailbox: Mailbox, tmp_path: Path
) -> None:
    write_config(tmp_path, mailbox.port)
    case = setup_store(cli)
    ok(cli, "case", "ask-corporation", case, "--on", "2026-01-06", user="anna")
    mailbox.refuse.add(ADDRESSES["anna"])
    result = cli("notify", "run", "--date", "2026-01-08")
    assert result.code == 1
    assert "refused the address of anna" in result.err
    assert ADDRESSES["anna"] not in result.err + result.out
    assert len(mailbox.to("piet")) == 1  # the others got theirs
    mailbox.take()

    mailbox.refuse.clear()
    notify(cli, "2026-01-08")
    assert len(mailbox.to("anna")) == 1
    assert mailbox.to("piet") == []  # recorded the first time


def test_a_long_reminder_log_is_read_from_its_snapshot(
    cli: Any, mailbox: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "SNAPSHOT_EVERY", 2)
    write_config(tmp_path, mailbox.port)
    setup_store(cli)
    notify(cli, "2026-01-08")  # the log's second version: a snapshot
    assert len(mailbox.to("anna")) == 1
    mailbox.take()
    notify(cli, "2026-01-09")
    assert mailbox.take() == []
    notify(cli, "2026-01-12")  # overdue: the third version, after the snapshot
    notify(cli, "2026-01-13")
    assert len(mailbox.to("anna")) == 1
    store = open_store(resolve_settings(store=None, key_dir=None, config=None))
    try:
        app = RegieApplication(store)
        log_id = ReminderLog.create_id(store.store_id, "anna")
        assert app.snapshots is not None
        assert [s.originator_version for s in app.snapshots.get(log_id)] == [2]
        log = app.get(log_id)
        assert log.mails == 2
        assert sorted(key.rsplit("|", 1)[1] for key in log.sent) == ["due-soon", "overdue"]
    finally:
        store.close()


def test_a_server_that_fails_halfway_keeps_what_went_out_and_the_next_run_sends_the_rest(
    cli: Any, mailbox: Mailbox, tmp_path: Path
) -> None:
    write_config(tmp_path, mailbox.port)
    case = setup_store(cli)
    ok(cli, "case", "ask-corporation", case, "--on", "2026-01-06", user="anna")  # anna and piet each get one
    mailbox.take_at_most = 1
    result = cli("notify", "run", "--date", "2026-01-08")
    assert result.code == 1
    assert "1 mail was sent and recorded before that; the rest go out on the next run" in result.err
    assert result.err.count("\n") == 1
    [(first, _raw)] = mailbox.take()

    mailbox.take_at_most = None
    notify(cli, "2026-01-08")
    [(second, _raw)] = mailbox.take()
    assert {first[0], second[0]} == {ADDRESSES["anna"], ADDRESSES["piet"]}


def test_a_dry_run_needs_no_mail_server(cli: Any, tmp_path: Path) -> None:
    """Seeing what would go out comes before setting up mail; the real run still asks for [mail]."""
    (tmp_path / "regie.toml").write_text("", encoding="utf-8")
    setup_store(cli)
    dry = notify(cli, "2026-01-08", "--dry-run", "--json").json()
    assert (dry["dry_run"], dry["notice_days"]) == (True, 2)  # the default look-ahead
    assert [m["items"][0]["due_on"] for m in dry["mails"] if m["user"] == "anna"] == ["2026-01-10"]
    real = cli("notify", "run", "--date", "2026-01-08")
    assert (real.code, "no [mail] section" in real.err) == (1, True)
