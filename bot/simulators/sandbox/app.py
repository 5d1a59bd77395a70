"""The sandbox tenant as an ASGI app: Entra login + Graph v1.0 PIM + /sandbox/ controls."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from bot.simulators.sandbox import (
    approvals,
    control,
    delegated,
    device,
    graph_directory,
    graph_pim,
    login,
)
from bot.simulators.sandbox.edge import GraphEdge
from bot.simulators.sandbox.errors import GraphFailure
from bot.simulators.sandbox.faults import Faults
from bot.simulators.sandbox.responses import failure_response
from bot.simulators.sandbox.tenant import SandboxTenant

DEFAULT_PAGE_SIZE = 100


def create_app(
    tenant: SandboxTenant, *, faults: Faults | None = None, page_size: int = DEFAULT_PAGE_SIZE
) -> Starlette:
    """Build the app. `faults` (created if absent) holds the fault rules and call log;
    `page_size` caps every collection page so `@odata.nextLink` paging gets exercised.
    Both, and the tenant, are on `app.state`."""
    faults = faults or Faults()
    app = Starlette(
        routes=login.ROUTES
        + graph_directory.ROUTES
        + graph_pim.ROUTES
        + control.ROUTES
        + device.ROUTES
        + delegated.ROUTES
        + approvals.ROUTES,
        middleware=[
            Middleware(GraphEdge, faults=faults, clock=tenant.clock, caller_of=tenant.caller_of)
        ],
        exception_handlers={
            GraphFailure: failure_response,
            HTTPException: failure_response,
            Exception: failure_response,  # Starlette turns this into its last-resort 500
        },
    )
    app.state.tenant = tenant
    app.state.faults = faults
    app.state.page_size = page_size
    return app
