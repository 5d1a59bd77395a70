"""deploy/: the Kubernetes manifests are valid against the Kubernetes schemas that
kubernetes-validate bundles (offline, strict: an unknown field is an error), and they
fit together and with pimbot: probes on /healthz and /readyz, selectors that match the
pods, every variable one pimbot reads, secrets from the Secret, pimbot.yml valid."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.settings import PolicyFile, Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
Doc = dict[str, Any]


def manifests() -> dict[str, Doc]:
    """Every Kubernetes object in deploy/ by kind (the kustomization is kustomize's)."""
    found: dict[str, Doc] = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            found[doc["kind"]] = doc
    return found


def validate(doc: Doc) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def container(objects: dict[str, Doc]) -> Doc:
    (only,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    return dict(only)


@pytest.mark.parametrize(
    "kind", ["ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"]
)
def test_each_manifest_is_valid_kubernetes(kind: str) -> None:
    validate(manifests()[kind])


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["spec"].__setitem__("replicas", "two"),
        lambda d: d["spec"].pop("selector"),
        lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__(
            "livenesProbe", {"httpGet": {"path": "/healthz", "port": "http"}}
        ),
    ],
    ids=["replicas-not-a-number", "no-selector", "misspelt-field"],
)
def test_a_broken_copy_of_the_deployment_fails_validation(break_it: Any) -> None:
    broken = copy.deepcopy(manifests()["Deployment"])
    break_it(broken)

    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_kustomization_applies_everything_but_the_example_secret() -> None:
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    files = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed) == files - {"secret.example.yaml"}


def test_two_replicas_probe_alive_and_ready_and_a_budget_keeps_one() -> None:
    objects = manifests()
    deployment, pod = objects["Deployment"], container(objects)
    assert deployment["spec"]["replicas"] == 2
    assert pod["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        objects["Service"]["spec"]["selector"],
    ):
        assert selector.items() <= labels.items()
    (port,) = pod["ports"]
    assert objects["Service"]["spec"]["ports"][0]["targetPort"] == port["name"]
    env = {e["name"]: e for e in pod["env"]}
    assert env["PIM_PORT"]["value"] == str(port["containerPort"])


def test_every_variable_is_one_pimbot_reads_and_secrets_come_from_the_secret() -> None:
    objects = manifests()
    env = {e["name"]: e for e in container(objects)["env"]}
    assert {name.lower() for name in env} <= set(Settings.model_fields)
    secret = objects["Secret"]
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "AZURE_CLIENT_SECRET",
        "PIM_DATABASE_URL",
    ):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"]
    required = [
        e["valueFrom"]["secretKeyRef"]["key"]
        for e in env.values()
        if "valueFrom" in e and not e["valueFrom"]["secretKeyRef"].get("optional")
    ]
    assert set(required) <= set(secret["stringData"])
    assert secret["stringData"]["PIM_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["PIM_LOG_FORMAT"]["value"] == "json"


def test_the_config_map_holds_a_valid_pimbot_yml_where_pim_config_points() -> None:
    objects = manifests()
    pod = container(objects)
    env = {e["name"]: e for e in pod["env"]}
    (mount,) = [m for m in pod["volumeMounts"] if m["name"] == "config"]
    assert env["PIM_CONFIG"]["value"] == f"{mount['mountPath']}/pimbot.yml"
    PolicyFile.model_validate(yaml.safe_load(objects["ConfigMap"]["data"]["pimbot.yml"]))
