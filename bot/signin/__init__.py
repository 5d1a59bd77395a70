"""Signed-in-user mode (`graph.identity: user`, issue #8): `/pim login` by device code,
per-user encrypted MSAL token caches, Graph as the signed-in user, PIM-native approvals
as the approver, and MFA / authentication-context step-up.

    from bot.signin.wiring import build_user_mode   # -> UserModeParts (graph, actor, ...)
    from bot.signin.crypto import check_signin_config  # start-up: PIM_TOKEN_KEY present?
    from bot.service.signins import SignInRequired, StepUpRequired
    from bot.service.signins import DeviceCodePrompt, LoginOutcome, LoginResult, LinkState

Entra app registration for this mode: a public client ("Allow public client flows": yes,
for the device code flow), no secret, no application permissions. Delegated permissions
(admin consent), all acting only within what the signed-in user may do themselves:

    RoleAssignmentSchedule.ReadWrite.Directory  selfActivate / selfDeactivate / selfExtend,
                                                and deciding beta roleAssignmentApprovals
    RoleEligibilitySchedule.Read.Directory      the user's eligibilities
    RoleManagementPolicy.Read.Directory         PIM policy rules per role
    RoleManagement.Read.Directory               role definitions
    User.Read (+ openid profile offline_access) sign-in, refresh tokens
    User.ReadBasic.All or User.Read.All         users by UPN / mail (identity mapping)
    GroupMember.Read.All                        approver groups, the user's group eligibilities

Importing this package does no work.
"""
