"""The embedded sandbox tenant: a Microsoft Graph v1.0 PIM emulator with an Entra-like
token endpoint, seeded with the Contoso tenant of Microsoft's PIM tutorial."""

from bot.sandbox.app import create_app
from bot.sandbox.faults import CallRecord, FaultRule, Faults
from bot.sandbox.seed import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT_ID
from bot.sandbox.server import SandboxServer, serve_forever
from bot.sandbox.tenant import SandboxTenant

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
