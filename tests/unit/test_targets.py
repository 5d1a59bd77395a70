"""Target and Scope: what is activated, and where, as read from the eligibility."""

from __future__ import annotations

import pytest

from bot.domain import models
from bot.domain.targets import Role, Scope, Target, TargetKind, pick_scope, split_scope
from bot.errors import InputError

UNIT = "0b7c3a52-7f1e-4c4b-9a57-5b8f0d2e6a11"
USER_ADMIN = Role("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator", "user-admin")


def test_the_tenant_scope_reads_as_the_whole_directory() -> None:
    scope = Scope("/")

    assert scope.is_tenant_wide and scope.label == "Whole directory"
    assert scope.administrative_unit_id is None


def test_an_administrative_unit_reads_as_its_name_when_known_else_its_id() -> None:
    named = Scope(f"/administrativeUnits/{UNIT}", "Seattle Branch")
    unnamed = Scope(f"/administrativeUnits/{UNIT}")

    assert not named.is_tenant_wide and named.administrative_unit_id == UNIT
    assert named.label == "administrative unit Seattle Branch"
    assert unnamed.label == f"administrative unit {UNIT}"


def test_another_kind_of_scope_reads_as_its_raw_id() -> None:
    app = Scope("/661e1310-bd76-4795-89a7-8f3c8f855bfc")

    assert app.label == app.id and app.administrative_unit_id is None


def test_a_scope_is_its_id_the_name_is_only_a_label() -> None:
    assert Scope(f"/administrativeUnits/{UNIT}", "Seattle Branch") == Scope(
        f"/administrativeUnits/{UNIT}"
    )
    assert hash(Scope("/", "Contoso")) == hash(Scope("/"))
    assert Scope("/") != Scope(f"/administrativeUnits/{UNIT}")
    assert Scope(f"/administrativeUnits/{UNIT}").named("Lyon").display_name == "Lyon"


@pytest.mark.parametrize("bad", ["", "administrativeUnits/x", "tenant"])
def test_a_scope_id_must_look_like_a_directory_scope_id(bad: str) -> None:
    with pytest.raises(ValueError, match="directoryScopeId"):
        Scope(bad)


def test_targets_match_by_kind_role_id_and_scope_id_not_by_names() -> None:
    unit = Scope(f"/administrativeUnits/{UNIT}", "Seattle Branch")
    ours = Target(TargetKind.DIRECTORY_ROLE, USER_ADMIN, unit)
    from_a_record = Target(
        TargetKind.DIRECTORY_ROLE,
        Role(USER_ADMIN.id.upper(), "User Administrator"),
        Scope(unit.id),
    )
    tenant_wide = Target(TargetKind.DIRECTORY_ROLE, USER_ADMIN, Scope("/"))

    assert ours.key == from_a_record.key
    assert ours.key != tenant_wide.key
    assert ours.label == "User Administrator (administrative unit Seattle Branch)"


def test_role_is_the_same_class_from_models_and_targets() -> None:
    assert models.Role is Role
    assert TargetKind("directory_role") is TargetKind.DIRECTORY_ROLE


class TestScopeChoice:
    PARIS = Scope("/administrativeUnits/au-1", "Paris Office")
    PARKS = Scope("/administrativeUnits/au-2", "Parks Department")
    WHOLE = Scope("/")

    def test_the_role_and_what_follows_its_last_at_sign(self) -> None:
        assert split_scope("helpdesk-admin@paris") == ("helpdesk-admin", "paris")
        assert split_scope("helpdesk-admin") == ("helpdesk-admin", None)
        assert split_scope("helpdesk-admin@") == ("helpdesk-admin", None)
        assert split_scope("@paris") == ("@paris", None)  # no role before it: not a scope

    def test_a_name_prefix_any_case_or_an_id_picks_one(self) -> None:
        scopes = [self.WHOLE, self.PARIS, self.PARKS]
        assert pick_scope(scopes, "PARIS", "Helpdesk Administrator") == self.PARIS
        assert pick_scope(scopes, "au-2", "Helpdesk Administrator") == self.PARKS
        assert pick_scope(scopes, "/administrativeUnits/au-1", "x") == self.PARIS
        assert pick_scope(scopes, "/", "x") == self.WHOLE
        assert pick_scope(scopes, "whole", "x") == self.WHOLE

    def test_an_ambiguous_or_unknown_hint_lists_the_scopes(self) -> None:
        scopes = [self.PARIS, self.PARKS]
        with pytest.raises(InputError, match="more than one scope") as many:
            pick_scope(scopes, "par", "Helpdesk Administrator")
        assert "`@paris`" in many.value.user_message and "`@parks`" in many.value.user_message
        with pytest.raises(InputError, match="no scope `lyon`"):
            pick_scope(scopes, "lyon", "Helpdesk Administrator")
