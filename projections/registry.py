"""Every projection of a store, in the order the runner applies them."""

from __future__ import annotations

from typing import Any

from casusregie.projections.access import AccessLogProjection
from casusregie.projections.cases import CaseProjection
from casusregie.projections.requests import RequestProjection
from casusregie.projections.runner import Projection
from casusregie.projections.trail import TrailProjection


def projections_for(app: Any) -> list[Projection]:
    trail = TrailProjection(app)
    return [CaseProjection(app, followers=[trail]), trail, AccessLogProjection(app), RequestProjection(app)]
