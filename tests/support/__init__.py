"""What the tests (and `python -m bench`) share; test modules import from here, never
from each other or from a conftest. The fixtures built on these are registered in
tests/conftest.py.

The people and the request
    cast            the Contoso cast: Slack and Entra ids, UPNs, names, groups, role ids,
                    read from the sandbox and workspace seeds; TICKET, WHY, CARD
    records         activation_record(): a record to start from
    settings        make_settings() (Settings + pimbot.yml), repo_policy(), policy_file(),
                    process_env() for subprocesses; BOT_TOKEN, SIGNING_SECRET, ROOT

Fakes
    clock           FakeClock
    slack           FakeSlack: the Slack Web API over real HTTP, recording every call
    slack_ports     FakeDirectory, RecordingNotifier: the Slack ports in memory
    signing         Slack's request signing and bodies (commands, interactions, events)
    payloads        block_actions(), deny_submission(): interaction payloads
    graph_fakes     a fake timer and a recording MockTransport for the Graph client
    graph_schema    assert_graph_valid(): bodies checked against Graph's schemas
    graph_caller    GraphCaller: calling the sandbox like a Graph client

Stacks and processes
    stack           BotStack: sandbox (TLS) + fake Slack + the bot's HTTP app
    approval_stack  ApprovalStack: + an approvals policy, a user group, a sweep endpoint
    signin_stack    SignInStack: + signed-in-user mode and a person at the sign-in page
    services        wire(), restart(): the services as in production, Slack in memory
    signin          Browser, Outcomes, log_in(): sign-ins at the service level
    real_bot        RealBot: `pimbot run`'s local stack in a thread
    processes       pimbot_run(), Worker: bot processes to start and kill
    worker          the crash-test bot process (python -m tests.support.worker)
    databases       postgres_url(): a PostgreSQL schema per test
    live            LiveServer: an ASGI app on a real port
    workspace       Rig: a local Slack workspace for a test
    browser         headless Chromium (Debian's) for the browser tests
"""
