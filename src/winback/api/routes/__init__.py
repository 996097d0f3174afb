"""The admin app's REST API under `/api/v1` (docs/rest-api.md): one router per resource, each route behind a
role capability (`winback.web.auth.require`)."""

from __future__ import annotations

from fastapi import APIRouter

from winback.api.routes import (
    coupons,
    customers,
    enrolments,
    programmes,
    reports,
    segments,
    suppressions,
    tasks,
)

__all__ = ["ROUTERS"]

# enrolments and reports before programmes: their paths sit under /programmes/{id}/… as well
ROUTERS: list[APIRouter] = [customers.router, segments.router, enrolments.router, reports.router,
                            programmes.router, suppressions.router, coupons.router, tasks.router]
