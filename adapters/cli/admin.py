"""`regie init`, `regie profile …`, `regie user …` and `regie projections …`."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from casusregie.adapters.cli.common import Context, json_option, pass_ctx, print_json, report, terminal
from casusregie.adapters.cli.output import echo, folding_table
from casusregie.adapters.cli.paths import InputPath
from casusregie.adapters.profile_file import PROFILE_DIR, ProfileError, builtin_profiles, load_profile, resolve_profile
from casusregie.adapters.store import create_store, discard_new_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.base import Result
from casusregie.commands.users import AddUser, DeactivateUser, LinkSubject, SetEmail, initialise, user_directory
from casusregie.domain.access import Action
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.roles import Role
from casusregie.domain.setup import USER_ID_RE
from casusregie.privacy_audit.access_records import view_differences
from casusregie.privacy_audit.verify import LogTampered
from casusregie.projections.reader import view_runner

_USER_RE = re.compile(r"[^a-z0-9._-]")


def register(root: click.Group) -> None:
    root.add_command(init)
    root.add_command(profile)
    root.add_command(user)
    root.add_command(projections)


@click.command()
@click.option(
    "--profile",
    "profile_name",
    required=True,
    metavar="NAME|FILE",
    help="Municipality profile: utrecht, nijmegen, nieuwegein, zwolle, amersfoort, or a TOML file.",
)
@click.option("--admin", metavar="USER", help="First user, the functional administrator (default: your login).")
@pass_ctx
def init(ctx: Context, profile_name: str, admin: str | None) -> None:
    """Create a new store with fresh keys; refuses to overwrite an existing one."""
    profile_model, text = resolve_profile(profile_name)
    admin_id = admin or _USER_RE.sub("", getpass.getuser().lower()) or "beheerder"
    if not USER_ID_RE.match(admin_id):
        raise ValidationFailed(f"user id {admin_id!r} must be 2-64 lowercase letters, digits, '.', '_' or '-'")
    store = create_store(ctx.settings())
    try:
        app = RegieApplication(store)
        initialise(app, profile_model, text, admin_id)
        view_runner(app).ensure_tables()
    except BaseException:
        discard_new_store(store)
        raise
    store.close()
    echo(f"created store {store.name} ({store.store_id}) with profile {profile_model.id}")
    echo(f"keys in {store.key_paths.folder} (mode 0600; back them up apart from the database)")
    echo(f"first user: {admin_id} (beheerder); add others with `regie --as {admin_id} user add`")


@click.group()
def profile() -> None:
    """Municipality profiles (gemeenteprofielen)."""


@profile.command("check")
@click.argument("path", type=InputPath(path_type=Path))
def profile_check(path: Path) -> None:
    """Validate a profile file on its own and list every problem."""
    try:
        loaded = load_profile(path)
    except ProfileError as exc:
        for problem in exc.problems:
            echo(problem)
        count = len(exc.problems)
        raise ValidationFailed(f"{path} is not a valid profile: {count} problem{'s' if count > 1 else ''}") from None
    echo(
        f"{path}: profile {loaded.id} is valid ({len(loaded.partners)} partners, "
        f"{len(loaded.activities)} processing activities)"
    )


@profile.command("list")
@json_option
def profile_list(as_json: bool) -> None:
    """The profiles shipped with casusregie, and the files they are read from (copy one to make your own)."""
    rows = []
    for pid, path in sorted(builtin_profiles().items()):
        loaded = load_profile(path)
        rows.append(
            {
                "id": pid,
                "municipality": loaded.municipality,
                "approach": loaded.approach,
                "seed": loaded.seed,
                "file": str(path),
            }
        )
    if as_json:
        print_json(rows)
        return
    table = folding_table("id", "municipality", "approach")
    for row in rows:
        table.add_row(row["id"], row["municipality"], row["approach"])
    console = terminal()
    console.print(table)
    # soft_wrap: a path or a command broken over two lines cannot be copied
    console.print(f"the files are in {PROFILE_DIR}/", soft_wrap=True)
    console.print("copy one to make your own, and check it with `regie profile check FILE`", soft_wrap=True)


@profile.command("show")
@json_option
@pass_ctx
def profile_show(ctx: Context, as_json: bool) -> None:
    """The profile this store runs under (no personal data)."""
    loaded = ctx.app().profile
    if as_json:
        print_json(loaded.model_dump(mode="json"))
        return
    ctx.console.print(f"{loaded.municipality}: {loaded.approach} (seed {loaded.seed})", style="bold")
    ctx.console.print(f"director: {loaded.director_title}; life domains: {', '.join(loaded.life_domains)}")
    table = folding_table("partner", "name", "may disclose")
    for partner in loaded.partners:
        table.add_row(partner.id, partner.name, ", ".join(partner.categories))
    ctx.console.print(table)
    ladder = folding_table("level", "escalation (opschaling)")
    for rung in loaded.escalation:
        ladder.add_row(str(rung.level), rung.name)
    ctx.console.print(ladder)


@click.group()
def user() -> None:
    """Users and their roles (gebruikersbeheer; by the beheerder)."""


@user.command("add")
@click.argument("user_id")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--org", "organisation", help="Organisation id (a partner id for partner users).")
@click.option("--team", default="", help="Team (case directors of one team share their cases).")
@click.option("--subject", metavar="SUB", help="Their subject at the identity provider (the token's sub), for the API.")
@click.option("--issuer", metavar="URL", help="That identity provider's issuer (default: [api] issuer of the config).")
@click.option("--email", metavar="ADDRESS", help="Work e-mail address for reminders (`regie notify run`).")
@json_option
@pass_ctx
def user_add(
    ctx: Context,
    user_id: str,
    role: str,
    organisation: str | None,
    team: str,
    subject: str | None,
    issuer: str | None,
    email: str | None,
    as_json: bool,
) -> None:
    """Add a user with a role (and, for the API, their identity at the identity provider)."""
    issuer = _issuer(ctx, issuer) if subject is not None else issuer
    command = AddUser(
        user_id=user_id, role=Role(role), organisation=organisation, team=team, subject=subject, issuer=issuer
    )
    address = SetEmail(user_id=user_id, email=email) if email is not None else None  # checked before anything
    result = ctx.run(command)
    if address is not None:  # its own record, after the user's (not under --request-id: setting it twice is harmless)
        result = Result(f"{result.message}; {ctx.session().execute(address).message}", result.data)
    report(ctx, result, as_json)


@user.command("subject")
@click.argument("user_id")
@click.option("--subject", required=True, metavar="SUB", help="Their subject at the identity provider (sub claim).")
@click.option("--issuer", metavar="URL", help="That identity provider's issuer (default: [api] issuer of the config).")
@pass_ctx
def user_subject(ctx: Context, user_id: str, subject: str, issuer: str | None) -> None:
    """Let an existing user sign in to the API as SUB at the identity provider."""
    report(ctx, ctx.run(LinkSubject(user_id=user_id, subject=subject, issuer=_issuer(ctx, issuer))))


def _issuer(ctx: Context, given: str | None) -> str:
    if given:
        return given
    configured = ctx.settings().api.get("issuer")
    if not isinstance(configured, str) or not configured:
        raise click.UsageError("give --issuer URL, or set issuer in the [api] section of the config file")
    return configured


@user.command("email")
@click.argument("user_id")
@click.argument("address", required=False)
@click.option("--remove", is_flag=True, help="Take the address away: no more reminders by e-mail.")
@pass_ctx
def user_email(ctx: Context, user_id: str, address: str | None, remove: bool) -> None:
    """Set the work e-mail address a user gets reminders at (`regie notify run`), or --remove it."""
    if remove == (address is not None):
        raise click.UsageError("give an ADDRESS, or --remove")
    report(ctx, ctx.run(SetEmail(user_id=user_id, email=address)))


@user.command("deactivate")
@click.argument("user_id")
@click.option("--reason", required=True)
@pass_ctx
def user_deactivate(ctx: Context, user_id: str, reason: str) -> None:
    """Deactivate a user; their history stays."""
    report(ctx, ctx.run(DeactivateUser(user_id=user_id, reason=reason)))


@user.command("list")
@json_option
@pass_ctx
def user_list(ctx: Context, as_json: bool) -> None:
    """Users and roles (beheerder and auditor)."""
    rows = user_directory(ctx.session())
    if as_json:
        print_json(rows)
        return
    table = folding_table("user", "role", "organisation", "team", "active", "signs in as (API)")
    for row in rows:
        signs_in = f"{row['subject']} at {row['issuer']}" if row.get("subject") else "-"
        table.add_row(
            row["user"], str(row["role"]), str(row["organisation"]), str(row["team"]), str(row["active"]), signs_in
        )
    ctx.console.print(table)


@click.group()
def projections() -> None:
    """The read models (projecties)."""


@projections.command("rebuild")
@pass_ctx
def projections_rebuild(ctx: Context) -> None:
    """Empty every view and rebuild it from the event log, with a progress bar."""
    session = ctx.session()
    if session.actor.role not in (Role.BEHEERDER, Role.AUDITOR, Role.REGISSEUR):
        session.deny("projections.rebuild", "beheer", Action.ADMIN, f"a {session.actor.role} does not rebuild views")
    session.log_read("projections.rebuild", "beheer", Action.ADMIN, None, [])
    runner = view_runner(ctx.app())
    total = runner.head()
    with Progress(
        TextColumn("rebuilding views"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False
    ) as bar:
        task = bar.add_task("rebuild", total=total)
        applied = runner.rebuild(lambda n: bar.advance(task, n))
    echo(f"rebuilt views from {applied} events")


@projections.command("check")
@json_option
@pass_ctx
def projections_check(ctx: Context, as_json: bool) -> None:
    """Compare the access-log view with the access records it was built from (which `log show` reads).

    A difference means the view's rows were edited or deleted outside the application: the
    records are the evidence; rebuild the view with `regie projections rebuild`.
    """
    session = ctx.session()
    if session.actor.role not in (Role.BEHEERDER, Role.AUDITOR, Role.PRIVACY_OFFICER):
        session.deny("projections.check", "beheer", Action.READ, f"a {session.actor.role} does not check views")
    session.log_read("projections.check", "beheer", Action.READ, None, [])
    view_runner(ctx.app()).catch_up()
    differences = view_differences(ctx.app())
    if as_json:
        print_json({"ok": not differences, "differences": differences})
    elif not differences:
        echo("the access-log view matches its records")
    for line in [] if as_json else differences:
        echo(f"  {line}")
    if differences:
        raise LogTampered(
            f"the access-log view differs from its records ({differences[0]}); rebuild it with "
            "`regie projections rebuild` and treat the edit as a security incident"
        )


@projections.command("status")
@json_option
@pass_ctx
def projections_status(ctx: Context, as_json: bool) -> None:
    """How far the views are behind the log."""
    runner = view_runner(ctx.app())
    data = {"position": runner.position(), "head": runner.head()}
    data["behind"] = data["head"] - data["position"]
    if as_json:
        print_json(data)
    else:
        echo(f"views at {data['position']} of {data['head']} ({data['behind']} behind)")
