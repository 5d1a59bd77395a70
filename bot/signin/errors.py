"""Errors of signed-in-user mode, each with a message fit to show the Slack user.

    PimError
    ├── SignInRequired      no usable tokens for this user: they must `/pim login` (again)
    └── StepUpRequired      Graph wants more claims (MFA / authentication context)

(A login as the wrong account is not an exception: it ends with LoginResult.MISMATCH.)

Raising either of the first two never loses the user's request: the caller keeps it and
resumes once the login outcome says the user is linked again.
"""

from __future__ import annotations

from bot.errors import PimError

EXPIRED_MESSAGE = (
    "Your Microsoft Entra sign-in has expired or was revoked. Run `/pim login` to sign in "
    "again; your request is kept and goes ahead once you have."
)


class SignInRequired(PimError):
    """The user has no tokens, or their refresh token expired or was revoked."""

    def __init__(self, slack_user_id: str, user_message: str | None = None) -> None:
        super().__init__(
            user_message or "You need to sign in to Microsoft Entra first: run `/pim login`."
        )
        self.slack_user_id = slack_user_id
        self.request_id: str | None = None  # set when a stored request waits on this


class StepUpRequired(PimError):
    """Graph answered a claims challenge; `claims` is the JSON claims request to sign in
    with (e.g. `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`)."""

    def __init__(self, claims: str, slack_user_id: str | None = None) -> None:
        super().__init__(
            "This role needs a stronger sign-in (for example multi-factor authentication). "
            "I'll send you a sign-in code; your request goes ahead once you have used it."
        )
        self.claims = claims
        self.slack_user_id = slack_user_id
        self.request_id: str | None = None  # set when a stored request waits on this
