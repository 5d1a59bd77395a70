"""A role's pimbot.yml entry is found by role id however the entry spells the role, and
the card's channel is the one the service checked before asking Graph."""

from __future__ import annotations

from bot.domain.roles import RoleCatalog
from bot.service.policies import approvals_channel as service_channel
from bot.service.policies import role_config
from bot.settings import PolicyFile
from handlers.notify import approvals_channel as card_channel
from tests.support.cast import USER_ADMIN
from tests.support.records import activation_record

SPELLINGS = ("user administrator", "USER ADMINISTRATOR", USER_ADMIN.upper(), "User Administrator")


def _config(spelling: str) -> PolicyFile:
    return PolicyFile.model_validate(
        {
            "channels": {"approvals": "C_EVERYONE"},
            "roles": {"ua": {"role": spelling, "approvals_channel": "C_USER_ADMINS"}},
        }
    )


def test_every_spelling_of_a_role_finds_its_entry_by_id() -> None:
    for spelling in SPELLINGS:
        config = _config(spelling)
        found = role_config(config, RoleCatalog(config), USER_ADMIN.upper())
        assert found is not None and found.role == spelling


def test_a_card_goes_to_the_channel_the_service_checked_whatever_the_spelling() -> None:
    record = activation_record()  # role_name "User Administrator", role_id lower-case
    for spelling in SPELLINGS:
        config = _config(spelling)
        catalog = RoleCatalog(config)
        checked = service_channel(config, catalog, catalog.by_id(record.role_id))
        assert checked == "C_USER_ADMINS"
        assert card_channel(config, record, catalog) == checked


def test_a_role_without_an_entry_uses_the_approvals_channel() -> None:
    config = _config("Global Administrator")
    assert card_channel(config, activation_record(), RoleCatalog(config)) == "C_EVERYONE"
