"""The embedded sandbox tenant: a Microsoft Graph v1.0 PIM emulator with an Entra-like
token endpoint, seeded with the Contoso tenant of Microsoft's PIM tutorial (seed.yml).

    tenant = SandboxTenant.from_seed(clock)            # clock: bot.clock.Clock
    app = create_app(tenant, faults=Faults(), page_size=100)
    httpx.AsyncClient(transport=httpx.ASGITransport(app))   # in process, or:
    with SandboxServer(app) as server:                 # real HTTPS: server.url, server.ca_file
        ...

Sandbox-only controls (not Graph): POST /sandbox/requests/{id}/approve|deny,
GET|POST /sandbox/clock, GET|POST|DELETE /sandbox/faults, GET /sandbox/calls,
POST /sandbox/tokens, POST /sandbox/device (device-code sign-in, with or without MFA),
GET|POST /sandbox/permissions (the app's granted permissions), POST /sandbox/reset.

As strict as Entra (README "The sandbox tenant's rules"): the app's Graph permissions
are seed data (403 `Authorization_RequestDenied` outside them); a signed-in user reads
only their own PIM records without a reader role; MFA on activation is read from the
token's `amr`; no deactivation within 5 minutes; `selfExtend` only asks administrators.

Signed-in-user mode (issue #8): delegated tokens by device code and refresh token
(`delegated.py`), Graph beta `roleAssignmentApprovals` (`approvals.py`), a claims
challenge for roles with an authentication context (`stepup.py`: PIM's 400
`RoleAssignmentRequestAcrsValidationFailed`; Privileged Role Administrator asks for
"c1"), and `POST /v1.0/users/{id}/revokeSignInSessions`.
"""

from bot.simulators.sandbox.app import create_app
from bot.simulators.sandbox.faults import CallRecord, FaultRule, Faults
from bot.simulators.sandbox.seed import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT_ID
from bot.simulators.sandbox.server import SandboxServer, serve_forever
from bot.simulators.sandbox.tenant import SandboxTenant

__all__ = [
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_TENANT_ID",
    "CallRecord",
    "FaultRule",
    "Faults",
    "SandboxServer",
    "SandboxTenant",
    "create_app",
    "serve_forever",
]
