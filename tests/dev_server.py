"""``make serve``: try the web application and the HTTP API on the demo store, with a development provider.

Runs the demo (a case from referral to closure) into a new folder, starts the test suite's
OpenID Provider on 127.0.0.1 (tests/node; any login name is accepted: development only),
ties every demo user to the provider's subject of the same name, writes a config file with
``development = true`` and serves the API until Ctrl-C. A token per demo user is written to
``<folder>/tokens/<user>`` (0600), so that curl can be tried at once.

Never for production: the provider signs in anyone who types a name, and the config says
so (``development = true``, which casusregie refuses on any address but the loopback).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from oidc import DEFAULT_AUDIENCE, WEB_CLIENT, Provider, ProviderError

REGIE = [sys.executable, "-c", "from casusregie.cli import entry; entry()"]
TOKEN_LIFETIME = 8 * 3600  # a working day: long enough to try things by hand


def regie(*args: str, quiet: bool = False) -> str:
    done = subprocess.run([*REGIE, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"regie {' '.join(args)} failed:\n{done.stderr.strip()}")
    if not quiet and done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8400, help="the API's port (default 8400)")
    parser.add_argument("--provider-port", type=int, default=8401, help="the provider's port (default 8401)")
    args = parser.parse_args()

    folder = Path("regie-demo") / ("serve-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S"))
    print(f"running the demo into {folder} ...")
    regie("demo", "--dir", str(folder), quiet=True)
    store, keys = str(folder.resolve() / "demo.db"), str(folder.resolve() / "keys")
    base = ["--store", store, "--key-dir", keys]

    try:
        provider = Provider.start(
            port=args.provider_port, access_token_ttl=TOKEN_LIFETIME, web_base=f"http://127.0.0.1:{args.port}"
        )
    except ProviderError as exc:  # a busy port, no Node, a start that hung: say so, without a trace
        sys.exit(f"make serve: the development identity provider did not start: {exc}\n(the demo store is in {folder})")
    with provider:
        users = json.loads(regie(*base, "--as", "beheerder", "user", "list", "--json"))
        tokens = folder / "tokens"
        tokens.mkdir(mode=0o700)
        for user in users:
            name = user["user"]
            regie(*base, "--as", "beheerder", "user", "subject", name, "--subject", name, "--issuer", provider.issuer)
            path = tokens / name
            path.touch(mode=0o600)
            path.write_text(provider.token(name) + "\n")
        secret = folder / "web-client.secret"
        secret.touch(mode=0o600)
        secret.write_text(provider.client_secret + "\n")
        config = folder / "serve.toml"
        config.write_text(
            f'store = "{store}"\nkey_dir = "{keys}"\n\n[api]\nissuer = "{provider.issuer}"\n'
            f'audience = "{DEFAULT_AUDIENCE}"\nlisten = "127.0.0.1:{args.port}"\n'
            "development = true  # a local provider that signs in anyone: never in production\n\n"
            f'[web]\nclient_id = "{WEB_CLIENT}"\nclient_secret_file = "{secret.resolve()}"\n'
            f'public_url = "http://127.0.0.1:{args.port}"\n',
            encoding="utf-8",
        )
        api = f"http://127.0.0.1:{args.port}/api/v1"
        print(
            f"\nweb application: http://127.0.0.1:{args.port}/  (sign in with a user name below; any password)\n"
            f"identity provider (development): {provider.issuer}\nconfig: {config}\n"
            f"tokens (valid {TOKEN_LIFETIME // 3600} h): {tokens}/<user>  ({', '.join(u['user'] for u in users)})\n\n"
            "try, in another terminal:\n"
            f'  curl -s -H "Authorization: Bearer $(cat {tokens}/anna)" {api}/cases\n'
            f'  curl -s -H "Authorization: Bearer $(cat {tokens}/anna)" {api}/worklist-items\n'
            f'  curl -s -H "Authorization: Bearer $(cat {tokens}/mitros.jan)" {api}/cases/CASE   # need-to-know\n'
            f"  curl -s {api}/openapi.json\n\nCtrl-C stops the API and the provider.\n",
            flush=True,
        )
        env = dict(os.environ, REGIE_CONFIG=str(config))
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run([*REGIE, "--config", str(config), "serve"], env=env, check=False)


if __name__ == "__main__":
    main()
