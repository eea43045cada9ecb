"""`regie serve`: the HTTP API, for the people who use casusregie at their own workplace."""

from __future__ import annotations

import json

import click

from casusregie.adapters.cli.common import Context, pass_ctx
from casusregie.adapters.cli.output import echo


def register(root: click.Group) -> None:
    root.add_command(serve)


@click.command("serve")
@click.option("--check", is_flag=True, help="Check the [api] configuration and the store, then stop.")
@click.option("--openapi", "print_openapi", is_flag=True, help="Print the OpenAPI document and stop.")
@pass_ctx
def serve(ctx: Context, check: bool, print_openapi: bool) -> None:
    """Serve the HTTP API (/api/v1), and with a [web] section the web application, on the store.

    Every caller is authenticated with OpenID Connect. Reads the [api] section of the config
    file: issuer and audience of the identity provider, listen address, TLS, trusted proxies,
    workers; and [web]: the web application's client at the provider and its public address
    (see the README, "Running the service").
    Callers are the users registered with `regie user add --subject SUB --issuer URL`.
    """
    if print_openapi:
        from casusregie.adapters.http.openapi import document

        click.echo(json.dumps(document(), indent=2, ensure_ascii=False))
        return
    from casusregie.adapters.http import serve as server

    settings = ctx.settings()
    api = server.load(settings)
    web = server.load_web(settings, api)  # a [web] section that cannot be used stops here, with one line
    if check:
        from casusregie.adapters.http.service import Service

        service = Service(settings)
        try:
            problems = service.check_ready()
        finally:
            service.close()
        for line in problems:
            echo(f"not ready: {line}", err=True)
        if problems:
            raise click.exceptions.Exit(1)
        host, port = api.address
        echo(f"ready to serve {settings.store} on {host}:{port} for issuer {api.issuer}")
        return
    host, port = api.address
    scheme = "https" if api.tls_certificate else "http"

    def announce() -> None:
        echo(
            f"serving {scheme}://{host}:{port}/api/v1 ({api.workers} worker(s)); identity provider {api.issuer}",
            err=True,
        )
        if web is not None:
            echo(f"web application: {web.base}/ (sign in at {api.issuer})", err=True)

    server.run(settings, api, announce=announce)
