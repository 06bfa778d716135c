"""The deployment files (docker/, .dockerignore, CI) are valid and agree with the product.

No Docker engine or cluster is needed: the files are validated against the official
schemas and cross-checked with the code they deploy (Settings, the CLI, the app's routes).
tests/docker/test_checks_fail.py shows each check failing on a broken copy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from assistant.settings import Settings
from tests.conftest import POSTGRES_URL, REDIS_URL
from tests.docker import build, consistency, context, contract, k8s_wiring, schemas
from tests.docker.dockerfile import read_dockerfile, stage_env
from tests.docker.files import (
    COMPOSE_FILE,
    CONSTRAINTS,
    DOCKER_DIR,
    DOCKERFILE,
    DOCKERIGNORE,
    K8S_DIR,
    LLM_ENV_EXAMPLE,
    MAKEFILE,
    PYPROJECT,
    WORKFLOW,
    Found,
    compose_commands,
    compose_env,
    configmap_data,
    dockerfile_command,
    dockerfile_env,
    dockerfile_http_checks,
    dockerfile_ports,
    env_file_pairs,
    k8s_commands,
    k8s_docs,
    k8s_files,
    load_manifest,
)

EXPECTED_UID = 10001
# Kept out of kustomization.yaml: a template of placeholders, and a generateName Job that
# only `kubectl create` can make.
NOT_IN_KUSTOMIZATION = {"secret.example.yaml", "index-build-job.yaml"}
# Local state the build context must never carry.
NEVER_IN_CONTEXT = [
    ".env",
    ".venv/bin/python",
    "var/index/current",
    ".git/HEAD",
    "tests/conftest.py",
]
PROBES = {"startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/ready"}


@pytest.fixture(scope="module")
def docs() -> list[tuple[Path, dict[str, Any]]]:
    return k8s_docs()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_manifest(COMPOSE_FILE)


@pytest.fixture(scope="module")
def image_env() -> dict[str, str]:
    instructions = read_dockerfile(DOCKERFILE)
    return stage_env(instructions, max(i.stage for i in instructions))


# --- schemas ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", k8s_files(), ids=lambda p: p.name)
def test_k8s_manifest_matches_the_kubernetes_schema(path: Path) -> None:
    assert schemas.check_k8s_schema(path) == []


def test_compose_file_matches_the_compose_spec() -> None:
    assert schemas.check_compose_schema(COMPOSE_FILE) == []


def test_workflow_matches_the_github_workflow_schema() -> None:
    assert schemas.check_workflow_schema(WORKFLOW) == []


# --- the product's contract ------------------------------------------------------------


def test_every_assistant_variable_is_a_settings_field() -> None:
    paths = [DOCKERFILE, COMPOSE_FILE, LLM_ENV_EXAMPLE, WORKFLOW, *sorted(K8S_DIR.glob("*.yaml"))]
    paths += sorted(DOCKER_DIR.glob("*.md"))
    assert contract.check_settings_names(paths) == []


def test_every_assistant_value_parses_as_settings(
    docs: list[tuple[Path, dict[str, Any]]], compose: dict[str, Any]
) -> None:
    found = [
        *dockerfile_env(DOCKERFILE),
        *compose_env(COMPOSE_FILE, compose),
        *configmap_data(docs),
        *env_file_pairs(LLM_ENV_EXAMPLE),
    ]
    assert len(found) > 10
    assert contract.check_settings_values(found) == []


@pytest.fixture(scope="module")
def cli_help() -> contract.HelpRunner:
    try:
        return contract.assistant_help_runner()
    except ImportError as exc:
        pytest.fail(f"the CLI behind the `assistant` console script (assistant.cli:main): {exc}")


def test_commands_are_commands_of_the_cli(
    cli_help: contract.HelpRunner,
    docs: list[tuple[Path, dict[str, Any]]],
    compose: dict[str, Any],
) -> None:
    image_cmd = dockerfile_command(DOCKERFILE)
    assert image_cmd is not None and image_cmd.value == ["assistant", "serve"]
    ours = {
        name
        for name, service in consistency.our_services(compose).items()
        if consistency.runs_our_cli(service)  # the Ray nodes run `ray start`: test_rayjob.py
    }
    commands = [f for f in compose_commands(COMPOSE_FILE, compose) if f.field.split(".")[1] in ours]
    found = [image_cmd, *commands, *k8s_commands(docs)]
    # The serve and build commands, from every place that runs them.
    assert {tuple(f.value) for f in found} >= {
        ("assistant", "serve"),
        ("assistant", "index", "build"),
    }
    assert contract.check_cli_commands(found, cli_help) == []


@pytest.fixture(scope="module")
def routes() -> Callable[[str], bool]:
    try:
        from api.app import create_app
    except ImportError as exc:
        pytest.fail(f"the app factory api.app:create_app: {exc}")
    # Routing only: the lifespan (which loads the index) never runs.
    return contract.get_router(create_app())


def test_probed_paths_are_routes_of_the_app(
    routes: Callable[[str], bool], docs: list[tuple[Path, dict[str, Any]]], compose: dict[str, Any]
) -> None:
    found = [
        *dockerfile_http_checks(DOCKERFILE),
        *consistency.compose_http_checks(COMPOSE_FILE, compose),
        *consistency.k8s_http_checks(docs),
    ]
    assert len(found) >= 5
    assert contract.check_http_paths(found, routes) == []


def test_probes_ask_the_right_question(docs: list[tuple[Path, dict[str, Any]]]) -> None:
    # liveness: is the process alive (/health); readiness: is an index loaded (/ready).
    assert consistency.check_probe_paths(docs, PROBES) == []
    healthcheck = dockerfile_http_checks(DOCKERFILE)
    assert healthcheck, "docker/Dockerfile: HEALTHCHECK requests no http:// URL"
    paths = [Found(f.file, f.field, f.value[1]) for f in healthcheck]
    assert consistency.check_values(paths, "/health") == []


def test_ports_agree_everywhere(
    docs: list[tuple[Path, dict[str, Any]]], compose: dict[str, Any]
) -> None:
    expected = Settings.model_fields["port"].default
    found = dockerfile_ports(DOCKERFILE)
    found += consistency.compose_ports(COMPOSE_FILE, compose)
    found += consistency.k8s_ports(docs)
    assert len(found) >= 10
    assert consistency.check_values(found, expected) == []


# --- the image -------------------------------------------------------------------------


def test_dockerfile_installs_torch_then_the_project_like_the_makefile() -> None:
    assert build.check_constraints_used(CONSTRAINTS, PYPROJECT, MAKEFILE) == []
    pin = build.constraint_pin(CONSTRAINTS, "torch")
    assert pin is not None
    instructions = read_dockerfile(DOCKERFILE)
    assert build.check_install(DOCKERFILE, instructions, pin) == []
    # One install of the project, carrying the EXTRAS build argument (the Ray image's `ray`).
    projects = [
        req
        for ins in instructions
        if ins.keyword == "RUN"
        for args in build.pip_installs(ins)
        for req in build.requirements(args)
        if req.split("[")[0] == "."
    ]
    assert projects == [".[postgres${EXTRAS:+,$EXTRAS}]"]


def test_image_runs_offline_as_a_non_root_user() -> None:
    instructions = read_dockerfile(DOCKERFILE)
    assert build.check_image(DOCKERFILE, instructions) == []
    assert build.image_uid(instructions) == EXPECTED_UID


def test_build_context_sends_what_the_image_copies_and_no_local_state() -> None:
    problems = context.check_dockerignore(
        DOCKERIGNORE, read_dockerfile(DOCKERFILE), NEVER_IN_CONTEXT
    )
    assert problems == []


# --- compose ---------------------------------------------------------------------------


def test_compose_api_waits_for_its_dependencies(compose: dict[str, Any]) -> None:
    assert consistency.check_compose_wiring(COMPOSE_FILE, compose) == []


def test_compose_index_volume_is_written_by_the_build_and_read_by_the_api(
    compose: dict[str, Any], image_env: dict[str, str]
) -> None:
    assert consistency.check_compose_index_volume(COMPOSE_FILE, compose, image_env) == []


# --- Kubernetes ------------------------------------------------------------------------


def test_k8s_manifests_refer_to_each_other(docs: list[tuple[Path, dict[str, Any]]]) -> None:
    assert k8s_wiring.check_references(docs) == []
    assert k8s_wiring.check_same_image(docs) == []


def test_k8s_index_volume_is_shared_read_only_by_the_api(
    docs: list[tuple[Path, dict[str, Any]]], image_env: dict[str, str]
) -> None:
    assert k8s_wiring.check_index_volume(docs, image_env) == []


def test_k8s_workloads_run_locked_down(docs: list[tuple[Path, dict[str, Any]]]) -> None:
    uid = build.image_uid(read_dockerfile(DOCKERFILE))
    assert uid is not None
    assert k8s_wiring.check_security(docs, uid) == []
    # Every workload of ours: the API, the one-off build and the nightly build.
    kinds = {doc["kind"] for _, doc, _, _ in consistency.our_containers(docs)}
    assert kinds == {"Deployment", "Job", "CronJob"}


def test_secret_template_holds_placeholders_only() -> None:
    assert k8s_wiring.check_secret_placeholders(K8S_DIR / "secret.example.yaml") == []


def test_kustomization_lists_the_manifests() -> None:
    problems = k8s_wiring.check_kustomization(K8S_DIR / "kustomization.yaml", NOT_IN_KUSTOMIZATION)
    assert problems == []


# --- CI --------------------------------------------------------------------------------


def test_ci_runs_make_test_against_the_services_the_suite_uses() -> None:
    python = build.BASE_IMAGE.split(":")[1].split("-")[0]
    redis_port = urlsplit(REDIS_URL).port or 6379
    doc = schemas.workflow_document(WORKFLOW)
    problems = build.check_workflow(WORKFLOW, doc, python, redis_port, make_url(POSTGRES_URL))
    assert problems == []
