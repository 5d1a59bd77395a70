"""The effective rule for a role (the stricter of Graph's PIM policy and pimbot.yml)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.durations import to_human
from bot.domain.models import ApproverKind, ApproverRef, RolePolicy
from bot.domain.rules import JustificationRules, PolicyRules, RoleRules, TicketRules
from bot.domain.validation import check_justification, check_ticket
from bot.errors import InputError, PolicyViolation

GRAPH_APPROVAL = "the Microsoft Entra PIM policy for this role requires approval"
CONFIG_APPROVAL = "pimbot.yml requires approval for this role"


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    """The merged rule, and in plain words why approval is needed (empty if it isn't)."""

    policy: RolePolicy
    approval_reasons: tuple[str, ...] = ()


def effective_policy(
    graph: RolePolicy, config: RoleRules | None, file: PolicyRules
) -> EffectivePolicy:
    """Each rule takes the stricter side, so the bot never allows what Graph would refuse."""
    bot_max = (config.max_duration if config else None) or file.default_max_duration
    reasons = _approval_reasons(graph, config)
    policy = RolePolicy(
        max_duration=min(graph.max_duration, bot_max),
        justification_required=graph.justification_required or file.justification.min_length > 0,
        ticket_required=graph.ticket_required or bool(config and config.ticket == "required"),
        mfa_required=graph.mfa_required,
        approval_required=bool(reasons),
        approvers=_union(graph.approvers, _config_approvers(config)),
    )
    return EffectivePolicy(policy, reasons)


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
    a = config.approvers
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
