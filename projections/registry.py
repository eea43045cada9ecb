"""Every projection of a store, in the order the runner applies them."""

from __future__ import annotations

from typing import Any

from casusregie.projections.cases import CaseProjection
from casusregie.projections.runner import Projection


def projections_for(app: Any) -> list[Projection]:
    return [CaseProjection(app)]
