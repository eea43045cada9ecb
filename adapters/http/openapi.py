"""The API's OpenAPI document, as committed in ``openapi.json`` beside this module.

Regenerate after changing a command or a route: ``regie serve --openapi > adapters/http/openapi.json``
(a test fails while the two differ).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

COMMITTED = Path(__file__).with_name("openapi.json")


def document() -> dict[str, Any]:
    from casusregie.adapters.http.app import build_app
    from casusregie.adapters.http.settings import ApiSettings

    # The document describes the API, not one deployment: no issuer or address of anyone's in it.
    example = ApiSettings(issuer="https://idp.example.org", audience="casusregie-api")
    return build_app(example, service=None).openapi()
