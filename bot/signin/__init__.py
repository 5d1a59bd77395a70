"""Signed-in-user mode (`graph.identity: user`, issue #8): `/pim login` by device code,
per-user encrypted MSAL token caches, Graph as the signed-in user, PIM-native approvals
as the approver, and MFA / authentication-context step-up.

    from bot.signin.wiring import build_signin       # -> SignIn(login, graphs, approvals, ...)
    from bot.signin.crypto import check_signin_config  # start-up: PIM_TOKEN_KEY present?
    from bot.signin.errors import SignInRequired, StepUpRequired, AccountMismatch
    from bot.signin.models import DeviceCodePrompt, LoginOutcome, LoginResult, LinkState

Importing this package does no work.
"""
