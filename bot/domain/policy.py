"""The effective rule for a role (the stricter of Graph's PIM policy and pimbot.yml)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.durations import to_human
from bot.domain.models import ApproverKind, ApproverRef, RolePolicy
from bot.domain.rules import (
    ApproverNames,
    JustificationRules,
    PolicyRules,
    RoleRules,
    TicketRules,
)
from bot.domain.validation import check_justification, check_ticket
from bot.errors import InputError, PolicyViolation

GRAPH_APPROVAL = "the Microsoft Entra PIM policy for this role requires approval"
CONFIG_APPROVAL = "pimbot.yml requires approval for this role"


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    """The merged rule, and in plain words why approval is needed (empty if it isn't)."""

    policy: RolePolicy
    approval_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Acting:
    """How pimbot acts in Entra: as its application (adminAssign, checked by Entra against
    the *_Admin_Assignment rules only) or as the signed-in user (selfActivate, checked by
    Entra against the *_EndUser_Assignment rules, MFA and approval included).
    `mfa_waived`: pimbot.yml lets application mode activate a role whose activation rules
    ask for MFA or an authentication context that an application cannot perform."""

    application: bool = True
    mfa_waived: bool = False


def effective_policy(
    graph: RolePolicy,
    config: RoleRules | None,
    file: PolicyRules,
    acting: Acting | None = None,
    role_name: str = "This role",
) -> EffectivePolicy:
    """Each rule takes the stricter side, so the bot never allows what Graph would refuse.

    In application mode Entra applies the Admin rules to the request, and skips the
    EndUser ones (https://learn.microsoft.com/en-us/graph/api/resources/unifiedrolemanagementpolicyrule
    "Admin: the rule applies to ... admin assignments; EndUser: ... self activation"):
    pimbot honours the Admin rules too, keeps enforcing the EndUser rules itself, and
    refuses what it cannot enforce (MFA, authentication context) unless waived."""
    acting = acting or Acting(application=False)
    admin = acting.application
    bot_max = (config.max_duration if config else None) or file.default_max_duration
    caps = [graph.max_duration, bot_max]
    if admin and graph.admin_max_duration is not None:
        caps.append(graph.admin_max_duration)
    reasons = _approval_reasons(graph, config)
    policy = RolePolicy(
        max_duration=min(caps),
        justification_required=graph.justification_required
        or file.justification.min_length > 0
        or (admin and "Justification" in graph.admin_rules),
        ticket_required=graph.ticket_required
        or bool(config and config.ticket == "required")
        or (admin and "Ticketing" in graph.admin_rules),
        mfa_required=graph.mfa_required,
        approval_required=bool(reasons),
        approvers=_union(graph.approvers, _config_approvers(config)),
        auth_context=graph.auth_context,
        admin_max_duration=graph.admin_max_duration,
        admin_rules=graph.admin_rules,
        refusal=_application_refusal(graph, role_name) if admin and not acting.mfa_waived else None,
        max_extensions=config.max_extensions if config else 1,
        approvals_required=config.approvals_required if config else 1,
    )
    return EffectivePolicy(policy, reasons)


def waived_rules(graph: RolePolicy) -> tuple[str, ...]:
    """What application mode skips of a role's rules, in words (empty: nothing)."""
    skipped = []
    if graph.mfa_required:
        skipped.append("multi-factor authentication on activation")
    if graph.auth_context:
        skipped.append(f"Conditional Access authentication context `{graph.auth_context}`")
    if "MultiFactorAuthentication" in graph.admin_rules:
        skipped.append("multi-factor authentication on active assignment")
    return tuple(skipped)


def _application_refusal(graph: RolePolicy, role_name: str) -> str | None:
    skipped = waived_rules(graph)
    if not skipped:
        return None
    return (
        f"{role_name}'s PIM policy requires {' and '.join(skipped)}, which pimbot cannot "
        "check when it acts as an application: Entra would not ask for it. Use "
        "signed-in-user mode (`graph.identity: user` in pimbot.yml), or have your pimbot "
        "admin waive it for this role (`roles.<alias>.application_mode: allow_without_mfa`)."
    )


def check_request(
    policy: RolePolicy,
    *,
    duration: timedelta,
    ticket: str | None,
    justification: str,
    ticket_cfg: TicketRules,
    justification_cfg: JustificationRules,
    role_name: str = "This role",
) -> None:
    """Raise PolicyViolation naming the first rule the request breaks."""
    if policy.refusal is not None:
        raise PolicyViolation(policy.refusal)
    if duration > policy.max_duration:
        raise PolicyViolation(
            f"{role_name} can be active for at most {to_human(policy.max_duration)}; "
            f"you asked for {to_human(duration)}."
        )
    if ticket is None or not ticket.strip():
        if policy.ticket_required:
            raise PolicyViolation(
                f"{role_name} needs a {ticket_cfg.system} ticket number, "
                f"like `{ticket_cfg.example}`, right after the duration."
            )
    else:
        _as_violation(lambda: check_ticket(ticket, ticket_cfg))
    if justification.strip() or policy.justification_required:
        _as_violation(lambda: check_justification(justification, justification_cfg))


def _as_violation(check: Callable[[], str]) -> None:
    # The same checks serve modal fields (InputError); against a policy they are violations.
    try:
        check()
    except InputError as exc:
        raise PolicyViolation(exc.user_message) from None


def _approval_reasons(graph: RolePolicy, config: RoleRules | None) -> tuple[str, ...]:
    reasons = [GRAPH_APPROVAL] if graph.approval_required else []
    if config is not None and config.approval == "required":
        reasons.append(CONFIG_APPROVAL)
    return tuple(reasons)


def _config_approvers(config: RoleRules | None) -> tuple[ApproverRef, ...]:
    if config is None:
        return ()
    return approver_refs(config.approvers)


def approver_refs(a: ApproverNames) -> tuple[ApproverRef, ...]:
    """The references pimbot.yml names (under a role's `approvers:`, or `viewers:`)."""
    return tuple(
        [ApproverRef(ApproverKind.SLACK_USER, i) for i in a.slack_users]
        + [ApproverRef(ApproverKind.SLACK_USERGROUP, i) for i in a.slack_usergroups]
        + [ApproverRef(ApproverKind.ENTRA_USER, i) for i in a.entra_users]
        + [ApproverRef(ApproverKind.ENTRA_GROUP, i) for i in a.entra_groups]
    )


def _union(*groups: tuple[ApproverRef, ...]) -> tuple[ApproverRef, ...]:
    # The same person may be named in both places, with or without a description.
    seen: dict[tuple[ApproverKind, str], ApproverRef] = {}
    for ref in (r for g in groups for r in g):
        seen.setdefault((ref.kind, ref.id), ref)
    return tuple(seen.values())
