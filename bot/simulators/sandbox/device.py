"""Device-code sign-in (RFC 8628) as Entra does it, for delegated (user) tokens.

The sandbox's "sign-in page" is `/sandbox/device`: in a browser (GET, then a form POST)
a person enters the user code and picks which seeded user they are; tests and scripts
`POST /sandbox/device {"userCode", "user"}` as JSON instead. The token then speaks for
that user (self actions, /me, filterByCurrentUser).
"""

from __future__ import annotations

import json
from html import escape
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.simulators.sandbox import delegated
from bot.simulators.sandbox.errors import bad_request
from bot.simulators.sandbox.responses import oauth_error
from bot.simulators.sandbox.tenant import SandboxTenant

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
POLL_INTERVAL = 1  # seconds; Entra says 5, but tests should not wait that long
FORM_TYPE = "application/x-www-form-urlencoded"  # the sign-in page's own POST


def _tenant(request: Request) -> SandboxTenant:
    tenant: SandboxTenant = request.app.state.tenant
    return tenant


async def start(request: Request) -> JSONResponse:
    """POST /{tenant}/oauth2/v2.0/devicecode: a user code for the user to enter."""
    tenant = _tenant(request)
    form = dict(parse_qsl((await request.body()).decode()))
    if form.get("client_id") != tenant.client_id:
        return oauth_error(
            request,
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{form.get('client_id')}' was not found.",
        )
    grant = tenant.device_codes.start(tenant.client_id, form.get("scope", ""), form.get("claims"))
    verification = str(request.base_url).rstrip("/") + "/sandbox/device"
    lifetime = int(tenant.device_codes.LIFETIME.total_seconds())
    return JSONResponse(
        {
            "user_code": grant.user_code,
            "device_code": grant.device_code,
            "verification_uri": verification,
            "expires_in": lifetime,
            "interval": POLL_INTERVAL,
            "message": f"To sign in, use a web browser to open the page {verification} and "
            f"enter the code {grant.user_code} to authenticate.",
        }
    )


def redeem(request: Request, form: dict[str, str]) -> JSONResponse:
    """The token endpoint's device_code grant: pending until signed in, then a token."""
    tenant = _tenant(request)
    outcome, grant = tenant.device_codes.redeem(form.get("device_code", ""))
    if grant is None or grant.user_id is None:
        codes = {"authorization_pending": 70016, "expired_token": 70020}
        return oauth_error(
            request,
            400,
            outcome,
            codes.get(outcome, 70000),
            "The device code sign-in is " + outcome.replace("_", " ") + ".",
        )
    if tenant.blocks_device_code:
        # A Conditional Access policy that blocks the device code flow ("Authentication
        # flows") lets the user sign in, then refuses the token: AADSTS53003.
        return oauth_error(
            request,
            400,
            "invalid_grant",
            53003,
            "Access has been blocked by Conditional Access policies. The access policy "
            "does not allow token issuance.",
        )
    acrs = delegated.requested_acrs(grant.claims)
    # A sign-in whose claims request asks for MFA is one the user completed with MFA.
    amr = delegated.sign_in_amr(grant.mfa or delegated.requests_mfa(grant.claims), acrs)
    return delegated.token_response(request, grant.user_id, grant.scope, acrs, amr)


async def sign_in(request: Request) -> Response:
    """GET: the sign-in page. POST a form (userCode, user, mfa) from that page, or JSON
    {"userCode", "user": id or UPN, "mfa": bool}: that user signs in with the code, with
    a second factor if `mfa` (the token's `amr` then says so) or with a password only."""
    tenant = _tenant(request)
    if request.method == "GET":
        return _page(tenant, code=request.query_params.get("code", ""))
    raw = await request.body()
    if request.headers.get("content-type", "").startswith(FORM_TYPE):
        return _sign_in_form(tenant, dict(parse_qsl(raw.decode(errors="replace"))))
    body = json.loads(raw) if raw else {}
    user = tenant.directory.user(str(body.get("user", "")))
    if user is None:
        raise bad_request("'user' must name a user of the tenant.")
    mfa = body.get("mfa", False)
    if not isinstance(mfa, bool):
        raise bad_request("'mfa' must be true or false.")
    grant = tenant.device_codes.sign_in(str(body.get("userCode", "")), user.id, mfa=mfa)
    if grant is None:
        raise bad_request("That code is unknown, expired or already used.")
    return JSONResponse({"signedIn": user.upn, "mfa": grant.mfa})


def _sign_in_form(tenant: SandboxTenant, form: dict[str, str]) -> HTMLResponse:
    """The page's POST: signed in, or the page again with what went wrong (400)."""
    code, wanted = form.get("userCode", "").strip(), form.get("user", "")
    user = tenant.directory.user(wanted)
    if user is None:
        return _page(tenant, code=code, chosen=wanted, error="Pick a user of the tenant.")
    if not code:
        return _page(tenant, code=code, chosen=user.id, error="Enter the code pimbot sent you.")
    mfa = form.get("mfa") == "on"
    if tenant.device_codes.sign_in(code, user.id, mfa=mfa) is None:
        return _page(
            tenant,
            code=code,
            chosen=user.id,
            error=f"The code {code} is unknown, expired or already used. Check it, or ask "
            "pimbot for a new one (/pim login).",
        )
    return _html(
        "Signed in",
        f"<p class=ok>Signed in as {escape(user.display_name)}. You can close this page "
        f"and go back to Slack.</p><p>Account: {escape(user.upn)}</p>",
    )


def _page(
    tenant: SandboxTenant, *, code: str, chosen: str = "", error: str | None = None
) -> HTMLResponse:
    """The form: the user code and a <select> of the tenant's users."""
    users = sorted(tenant.directory.users.values(), key=lambda u: u.display_name.lower())
    options = '<option value="">Choose who you are…</option>' + "".join(
        f'<option value="{escape(u.id)}"{" selected" if u.id == chosen else ""}>'
        f"{escape(u.display_name)} — {escape(u.upn)}</option>"
        for u in users
    )
    problem = f"<p class=error role=alert>{escape(error)}</p>" if error else ""
    body = (
        f"<p>Sign in to <b>{escape(tenant.seed.display_name)}</b> (sandbox tenant): enter "
        "the code pimbot sent you and pick who you are. There is no password: this is "
        "the sandbox.</p>"
        f"{problem}"
        '<form method="post" action="/sandbox/device">'
        '<label>Code <input name="userCode" autocomplete="off" required autofocus '
        f'value="{escape(code)}"></label>'
        f'<label>User <select name="user" required>{options}</select></label>'
        '<label class=check><input type="checkbox" name="mfa"> Sign in with '
        "multi-factor authentication (roles whose PIM policy requires MFA need it)</label>"
        "<button type=submit>Sign in</button></form>"
    )
    return _html("Sign in", body, status=400 if error else 200)


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin:.8rem 0}input,select{display:block;width:100%;"
    "font-size:1rem;padding:.3rem;margin-top:.2rem}button{font-size:1rem;padding:.4rem 1rem}"
    ".error{color:#b00020}.ok{color:#1b5e20}"
    "label.check input{display:inline;width:auto;margin-right:.4rem}"
)


def _html(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · sandbox tenant</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>",
        status_code=status,
        # Defence in depth: nothing on the page may load or run anything.
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'"
        },
    )


ROUTES = [Route("/sandbox/device", sign_in, methods=["GET", "POST"])]
