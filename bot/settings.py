"""Settings: the environment contract (DESIGN §4) and the YAML policy file (`PIM_CONFIG`)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.durations import parse_duration
from bot.errors import ConfigError, InputError


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(str(value))
    except InputError:
        raise ValueError(f"{str(value)!r} is not a duration") from None


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TicketConfig(_Strict):
    """The ticket system: its name (sent as `ticketInfo.ticketSystem`) and number pattern."""

    system: str = "CONTOSO"
    pattern: str = r"^CONTOSO:[A-Za-z]+-\d{6}$"
    example: str = "CONTOSO:Security-012345"
    url_template: str | None = None  # e.g. https://tickets.example.com/browse/{ticket}

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a regular expression ({exc})") from None
        return value


class ChannelsConfig(_Strict):
    approvals: str | None = None
    audit: str | None = None


class JustificationConfig(_Strict):
    min_length: int = Field(default=10, ge=0, le=500)
    max_length: int = Field(default=500, ge=1, le=2000)


class ApproversConfig(_Strict):
    """Who may approve: Slack user ids, a Slack user group id, Entra user or group ids."""

    slack_users: list[str] = Field(default_factory=list)
    slack_usergroups: list[str] = Field(default_factory=list)
    entra_users: list[str] = Field(default_factory=list)
    entra_groups: list[str] = Field(default_factory=list)


class BreakGlassConfig(_Strict):
    """`roles.<alias>.break_glass`: the role may be activated at once in an emergency
    (`/pim breakglass`), then ratified by its approvers or deactivated."""

    ratify_within: Duration = timedelta(minutes=30)  # counted from the activation's start
    ratifications_required: int = Field(default=1, ge=1, le=10)
    max_per_day: int = Field(default=2, ge=1, le=50)  # per person, in any rolling 24 hours


class RoleConfig(_Strict):
    """One role alias: which directory role, and the bot-side rules on top of Graph's."""

    role: str  # display name or template id
    max_duration: Duration | None = None
    approval: Literal["required", "graph"] = "graph"  # "graph": as the PIM policy says
    ticket: Literal["required", "graph"] = "graph"
    approvers: ApproversConfig = Field(default_factory=ApproversConfig)
    # Application mode only: activate although the role's PIM policy asks for MFA or an
    # authentication context on activation, which adminAssign skips. Off: refused.
    application_mode: Literal["allow_without_mfa"] | None = None
    break_glass: BreakGlassConfig | None = None  # absent: never break-glassed
    # An undecided request re-pings its approvers in the card's thread this long after it
    # was made, then after twice as long each time (15m: at 15, 45, 105 min…).
    remind_approvers_after: Duration = timedelta(minutes=15)
    # Counted from the request: `escalate_to` is pinged once in the same thread.
    escalate_after: Duration | None = None
    escalate_to: ApproversConfig = Field(default_factory=ApproversConfig)
    # Extensions one activation may have (issue 15); 0: none. A refused one doesn't count.
    max_extensions: int = Field(default=1, ge=0)
    # Four eyes: this many distinct approvers (never the requester) must approve.
    approvals_required: int = Field(default=1, ge=1, le=10)
    approvals_channel: str | None = None  # overrides channels.approvals for this role

    @model_validator(mode="after")
    def _escalation_names_someone(self) -> RoleConfig:
        named = any(getattr(self.escalate_to, kind) for kind in ApproversConfig.model_fields)
        if (self.escalate_after is None) == named:
            # Half a rule would escalate to nobody, or never: refuse it at start-up.
            raise ValueError("escalate_after and escalate_to go together: set both or neither")
        return self


class RemindersConfig(_Strict):
    lead_times: list[Duration] = Field(default_factory=lambda: [timedelta(minutes=15)])


class GraphConfig(_Strict):
    identity: Literal["application", "user"] = "application"
    # `allow_without_mfa`: the waiver of RoleConfig.application_mode, for every role.
    application_mode: Literal["allow_without_mfa"] | None = None


class AccessConfig(_Strict):
    """Who besides full members may use the bot."""

    guests: Literal["refuse", "allow"] = "refuse"  # Slack guests (single- and multi-channel)


class ReadinessConfig(_Strict):
    """Following an accepted activation until the directory shows it in effect."""

    timeout: Duration = timedelta(minutes=15)  # not in effect by then: requester and audit told


class DriftConfig(_Strict):
    """What pimbot does about active assignments of its roles it did not grant."""

    remove_outside_activations: bool = False  # off: they are only reported
    # Never removed, whatever the above says: emergency accounts (UPN or Entra object id).
    break_glass_accounts: list[str] = Field(default_factory=list)


class PolicyFile(_Strict):
    """`pimbot.yml`: validated at start-up; a bad value names its field."""

    ticket: TicketConfig = Field(default_factory=TicketConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    justification: JustificationConfig = Field(default_factory=JustificationConfig)
    reminders: RemindersConfig = Field(default_factory=RemindersConfig)
    graph: GraphConfig = Field(default_factory=GraphConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    # How often Graph is read tenant-wide for activity outside pimbot (on the bot's clock).
    reconcile_every: Duration = timedelta(minutes=5)
    approval_timeout: Duration = timedelta(hours=24)
    default_max_duration: Duration = timedelta(hours=8)
    users: dict[str, str] = Field(default_factory=dict)  # Slack user id -> Entra UPN/id
    # Who may see every elevation (`/pim who`, others' `/pim history`) besides approvers.
    viewers: ApproversConfig = Field(default_factory=ApproversConfig)
    roles: dict[str, RoleConfig] = Field(default_factory=dict)


def load_policy_file(path: Path) -> PolicyFile:
    """Read and validate the YAML file; a missing file means all defaults."""
    if not path.exists():
        return PolicyFile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:  # a directory (a bind mount of a missing file), no permission
        raise ConfigError(
            f"{path}: cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: the top level must be a mapping of settings")
    try:
        return PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path.name, exc)) from None


def _describe(source: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    reason = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{source}: {where} is not a known setting"
    if err["type"] == "missing":
        return f"{source}: {where} is required"
    return f"{source}: {where}: {reason}"


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class Settings(BaseSettings):
    """Environment variables (and `.env`), exactly as DESIGN §4 names them."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    azure_tenant_id: str | None = None
    azure_client_id: str | None = None
    azure_client_secret: SecretStr | None = None
    azure_client_certificate_path: Path | None = None
    azure_authority_host: str = "https://login.microsoftonline.com"

    pim_graph_url: str = "https://graph.microsoft.com"
    pim_database_url: str = "sqlite:///pimbot.db"
    pim_config: Path = Path("pimbot.yml")
    pim_port: int = Field(default=3000, ge=1, le=65535)
    # Extra CA bundle trusted for the login and Graph hosts (the sandbox's self-signed cert).
    pim_ca_file: Path | None = None
    # Fernet key (urlsafe base64, 32 bytes) sealing per-user token caches in user mode.
    pim_token_key: SecretStr | None = None
    # The embedded sandbox tenant is a demo: with Slack credentials it stands in for Entra
    # only when asked for by name, never because AZURE_* were forgotten.
    pim_sandbox: bool = False
    # `json`: one JSON object per log line, each with the request id (bot/logs.py).
    pim_log_format: Literal["text", "json"] = "text"
    # How long eligibilities and group memberships read from Graph are kept (issue 17).
    # A security trade-off: an eligibility removed in Entra may still be honoured for this
    # long (never past its own end). Bounded at 5 minutes; 0 reads Graph every time.
    pim_eligibility_cache_seconds: int = Field(default=30, ge=0, le=300)
    # How long one /readyz answer is reused (probes share it: handlers/ready.py).
    pim_ready_cache_seconds: float = Field(default=5.0, ge=0.0, le=60.0)
    # At most one redraw of the audit channel's board per this many seconds while changes
    # arrive in a burst (the last change is always drawn); 0 redraws after every change.
    pim_board_redraw_seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    # The work after each ack (handlers/work.py): at most PIM_WORKERS pieces run at once,
    # at most PIM_WORK_QUEUE more wait; beyond that the person is told the bot is busy.
    pim_workers: int = Field(default=32, ge=1, le=256)
    pim_work_queue: int = Field(default=200, ge=0, le=100_000)
    # Replicas on PostgreSQL (bot/service/leases.py): a request being activated is leased
    # this long, renewed every PIM_LEASE_SCAN_SECONDS; every replica scans as often for
    # lapsed leases, so a dead replica's activation resumes within about the sum.
    pim_lease_seconds: float = Field(default=30.0, ge=1.0, le=600.0)
    pim_lease_scan_seconds: float = Field(default=10.0, ge=0.1, le=300.0)

    @field_validator("pim_lease_scan_seconds")
    @classmethod
    def _renewed_in_time(cls, scan: float, info: ValidationInfo) -> float:
        # Renewed at least twice per lease: one slow round must not lose a live lease.
        lease = info.data.get("pim_lease_seconds")
        if isinstance(lease, float) and scan * 2 > lease:
            raise ValueError(f"must be at most half of PIM_LEASE_SECONDS ({lease:g})")
        return scan

    @property
    def uses_sandbox(self) -> bool:
        """No Entra app registration configured: run against the embedded sandbox tenant."""
        return not (self.azure_tenant_id and self.azure_client_id)

    @property
    def has_slack(self) -> bool:
        return self.slack_bot_token is not None

    def sandbox_refusal(self) -> str | None:
        """Why the embedded sandbox tenant may not stand in for Entra here, or None.

        Fail closed: half an app registration is a mistake, not a request for the demo
        tenant; and a bot that real Slack users reach must not quietly grant roles in a
        make-believe tenant because AZURE_* were left out."""
        tenant, client = self.azure_tenant_id, self.azure_client_id
        if bool(tenant) != bool(client):
            missing = "AZURE_CLIENT_ID" if tenant else "AZURE_TENANT_ID"
            return (
                f"{missing} is not set: set both AZURE_TENANT_ID and AZURE_CLIENT_ID "
                "(your Entra app registration)"
            )
        slack = self.slack_bot_token or self.slack_app_token or self.slack_signing_secret
        if self.uses_sandbox and slack and not self.pim_sandbox:
            return (
                "Slack credentials are set but AZURE_TENANT_ID and AZURE_CLIENT_ID are not: "
                "set them to your Entra app registration, or PIM_SANDBOX=1 to run against "
                "the embedded sandbox tenant (a demo tenant, not yours)"
            )
        return None

    def policy(self) -> PolicyFile:
        """pimbot.yml; all defaults when there is none where PIM_CONFIG's default points
        (the working directory). A PIM_CONFIG set to a file that is not there stops
        start-up instead: a mount or path gone wrong must not quietly drop every role's
        cap, approvers and break-glass list for the defaults."""
        if "pim_config" in self.model_fields_set and not self.pim_config.is_file():
            raise ConfigError(f"PIM_CONFIG: {self.pim_config} is not a file")
        return load_policy_file(self.pim_config)


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment, turning validation errors into one line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        # Name the variable as the user sets it (PIM_PORT), not the field (pim_port).
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "environment"
        reason = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"environment: {name}: {reason}") from None
