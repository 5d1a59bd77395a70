"""Role names as people type them -> the role Graph knows, and config mistakes at start-up."""

from __future__ import annotations

import pytest

from bot.domain.models import Role
from bot.domain.roles import BUILTIN_ROLES, RoleCatalog
from bot.errors import ConfigError, InputError
from bot.settings import PolicyFile, RoleConfig
from tests.support.cast import GLOBAL_ADMIN, USER_ADMIN

CUSTOM = "0b2a9f1e-1111-4222-8333-944455556666"


def catalog(**roles: str) -> RoleCatalog:
    return RoleCatalog(PolicyFile(roles={a: RoleConfig(role=r) for a, r in roles.items()}))


class TestBuiltins:
    def test_table_has_the_common_roles_with_unique_ids_and_aliases(self) -> None:
        assert len(BUILTIN_ROLES) >= 22
        assert len({i for _, _, i in BUILTIN_ROLES}) == len(BUILTIN_ROLES)
        assert len({a for a, _, _ in BUILTIN_ROLES}) == len(BUILTIN_ROLES)

    @pytest.mark.parametrize(
        ("name", "template_id"),
        [
            ("User Administrator", USER_ADMIN),
            ("Global Administrator", GLOBAL_ADMIN),
            ("Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8"),
            ("Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d"),
            ("Privileged Role Administrator", "e8611ab8-c189-46e8-94e1-60213ab1f814"),
            ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
        ],
    )
    def test_template_ids_match_microsofts_reference(self, name: str, template_id: str) -> None:
        assert RoleCatalog().resolve(name).id == template_id


class TestResolve:
    @pytest.mark.parametrize(
        "text",
        [
            "user-admin",
            "USER-ADMIN",
            "user_admin",
            "User Administrator",
            "  user   administrator ",
            '"User Administrator"',
            USER_ADMIN,
            USER_ADMIN.upper(),
        ],
    )
    def test_alias_name_or_template_id_in_any_case(self, text: str) -> None:
        assert RoleCatalog().resolve(text) == Role(USER_ADMIN, "User Administrator", "user-admin")

    def test_global_admin_with_a_space_means_the_alias(self) -> None:
        assert RoleCatalog().resolve("global admin").id == GLOBAL_ADMIN

    def test_config_alias_wins_and_becomes_the_alias_shown(self) -> None:
        roles = catalog(ua="User Administrator", ga=GLOBAL_ADMIN)
        assert roles.resolve("ua").id == USER_ADMIN
        assert roles.resolve("ga") == Role(GLOBAL_ADMIN, "Global Administrator", "ga")
        assert roles.alias_for(USER_ADMIN) == "ua"
        assert roles.resolve("user-admin").alias == "ua"  # built-in aliases still work

    @pytest.mark.parametrize(
        ("text", "suggests"),
        [
            ("user-admn", "`user-admin`"),
            ("globl-admin", "`global-admin`"),
            ("Secrity Reader", "Security Reader"),
        ],
    )
    def test_unknown_role_suggests_close_names_and_pim_list(self, text: str, suggests: str) -> None:
        with pytest.raises(InputError) as err:
            RoleCatalog().resolve(text)
        assert suggests in err.value.user_message
        assert "/pim list" in err.value.user_message

    def test_unknown_role_with_nothing_close_still_points_at_pim_list(self) -> None:
        with pytest.raises(InputError) as err:
            RoleCatalog().resolve("zzzzzzzz")
        assert "Did you mean" not in err.value.user_message
        assert "`zzzzzzzz`" in err.value.user_message and "/pim list" in err.value.user_message


class TestConfigAndGraph:
    def test_a_config_alias_that_takes_over_a_builtin_one_is_not_shown_for_the_old_role(
        self,
    ) -> None:
        roles = catalog(**{"security-admin": "Security Reader"})
        assert roles.resolve("security-admin").display_name == "Security Reader"
        assert roles.resolve("Security Administrator").alias is None

    def test_unknown_config_role_names_the_field(self) -> None:
        with pytest.raises(ConfigError) as err:
            catalog(helpdesk="Helpdesk Admnistrator")
        assert "roles.helpdesk.role" in err.value.user_message
        assert "Helpdesk Administrator" in err.value.user_message

    def test_config_may_name_a_custom_role_by_id(self) -> None:
        roles = catalog(custom=CUSTOM)
        assert roles.resolve("custom") == Role(CUSTOM, CUSTOM, "custom")

    def test_graph_definitions_add_custom_roles_by_name(self) -> None:
        roles = RoleCatalog(PolicyFile(), extra=[Role(CUSTOM, "Break Glass Reader")])
        assert roles.resolve("break glass reader").id == CUSTOM
        assert roles.by_id(CUSTOM).display_name == "Break Glass Reader"

    def test_by_id_of_an_unknown_role_shows_the_id(self) -> None:
        assert RoleCatalog().by_id(CUSTOM) == Role(CUSTOM, CUSTOM, None)

    def test_roles_lists_every_known_role_by_name(self) -> None:
        names = [r.display_name for r in RoleCatalog().roles()]
        assert names == sorted(names) and "User Administrator" in names
