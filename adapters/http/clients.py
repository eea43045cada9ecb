"""Who is calling from where: the client address recorded beside the authenticated subject (NEN 7513)."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import Request


def client_address(request: Request) -> str:
    """The caller's address; behind a trusted proxy, the nearest address the proxies name that is not theirs."""
    peer = request.client.host if request.client else ""
    proxies: list[Any] = request.app.state.proxies
    if not proxies or not _within(peer, proxies):
        return peer
    # Every X-Forwarded-For line, in order: a proxy that adds its own line after the client's must
    # not leave the client's (forgeable) first line to be read as the whole header.
    lines = ",".join(request.headers.getlist("x-forwarded-for"))
    forwarded = [a.strip() for a in lines.split(",") if a.strip()]
    for address in reversed(forwarded):
        if not _within(address, proxies):
            return address if _is_ip(address) else peer
    return peer


def _within(address: str, networks: list[Any]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
