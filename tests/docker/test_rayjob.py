"""The Ray build's deployment files: the KubeRay RayJob against the RayJob CRD schema and
the same Kubernetes checks as the build Job, and the compose profile `ray`.

Each check is also shown failing on a broken copy, as tests/docker/test_checks_fail.py
does for the others.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.docker import contract, k8s_wiring, rayjob
from tests.docker.build import image_uid
from tests.docker.dockerfile import read_dockerfile, stage_env
from tests.docker.files import (
    COMPOSE_FILE,
    DOCKERFILE,
    PYPROJECT,
    Found,
    compose_commands,
    k8s_docs,
    load_manifest,
)
from tests.docker.schemas import K8S_VERSION

HEAD = "spec.rayClusterSpec.headGroupSpec.template"


@pytest.fixture(scope="module")
def job() -> dict[str, Any]:
    return load_manifest(rayjob.RAYJOB_FILE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_manifest(COMPOSE_FILE)


def api_image() -> str:
    deployment = next(d for _, d in k8s_docs() if d["kind"] == "Deployment")
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def wiring_problems(job: dict[str, Any]) -> list[str]:
    """The Job's reference, security and index-volume checks, on each pod template."""
    base = k8s_docs()
    image_env = stage_env(
        read_dockerfile(DOCKERFILE), max(i.stage for i in read_dockerfile(DOCKERFILE))
    )
    uid = image_uid(read_dockerfile(DOCKERFILE))
    assert uid is not None
    problems = []
    for field, doc in rayjob.as_jobs(rayjob.RAYJOB_FILE, job):
        found = k8s_wiring.check_references([*base, doc]) + k8s_wiring.check_security([doc], uid)
        if field == HEAD:  # the publishing process: the index volume, read-write
            found += k8s_wiring.check_index_volume([*base, doc], image_env)
        problems += rayjob.relabel(found, field)
    return problems


# --- the RayJob ------------------------------------------------------------------------


def test_rayjob_matches_the_kuberay_crd_schema(job: dict[str, Any]) -> None:
    assert rayjob.check_rayjob_schema(rayjob.RAYJOB_FILE, job) == []
    assert len(rayjob.pod_templates(job)) == 3  # head, one worker group, the submitter


def test_rayjob_pods_are_valid_kubernetes_pods(job: dict[str, Any]) -> None:
    assert rayjob.check_pod_schemas(rayjob.RAYJOB_FILE, job, K8S_VERSION) == []


def test_rayjob_runs_the_ray_build_of_the_cli(job: dict[str, Any]) -> None:
    argv = rayjob.entrypoint(job)
    assert rayjob.check_ray_engine_argv(f"{rayjob.RAYJOB_FILE.name}: spec.entrypoint", argv) == []
    found = [Found(rayjob.RAYJOB_FILE, "spec.entrypoint", argv)]
    assert contract.check_cli_commands(found, contract.assistant_help_runner()) == []


def test_rayjob_pods_share_the_index_volume_and_run_locked_down(job: dict[str, Any]) -> None:
    assert wiring_problems(job) == []


def test_rayjob_runs_the_api_image_with_the_ray_extra_of_pyproject(job: dict[str, Any]) -> None:
    assert rayjob.check_images(rayjob.RAYJOB_FILE, job, api_image()) == []
    extras = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    pins = [r.split("==")[1] for r in extras["ray"] if r.startswith("ray[") and "==" in r]
    assert pins == [job["spec"]["rayClusterSpec"]["rayVersion"]], extras["ray"]


# --- the compose profile ---------------------------------------------------------------


def test_compose_ray_profile_builds_against_its_own_cluster(compose: dict[str, Any]) -> None:
    assert rayjob.check_compose_ray_profile(COMPOSE_FILE, compose) == []
    assert any("ARG EXTRAS" in f"{i.keyword} {i.value}" for i in read_dockerfile(DOCKERFILE))


def test_compose_ray_nodes_run_commands_of_the_ray_cli(compose: dict[str, Any]) -> None:
    from ray.scripts.scripts import cli

    nodes = {n for n, s in compose["services"].items() if "ray" in (s.get("profiles") or [])}
    found = [
        f
        for f in compose_commands(COMPOSE_FILE, compose)
        if f.field.split(".")[1] in nodes and f.value[0] == "ray"
    ]
    assert len(found) == 2  # the head and the worker
    assert contract.check_cli_commands(found, contract.click_help_runner(cli), "ray") == []
    healthcheck = compose["services"]["ray-head"]["healthcheck"]["test"][1:3]
    runner = contract.click_help_runner(cli)
    assert runner([*healthcheck[1:], "--help"])[0] == 0, healthcheck


# --- each check fails on a broken copy -------------------------------------------------


def broken(job: dict[str, Any], change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(job)
    change(doc)
    return doc


def test_a_misspelled_or_mistyped_rayjob_field_is_named(job: dict[str, Any]) -> None:
    def misspell(doc: dict[str, Any]) -> None:
        doc["spec"]["entryPoint"] = doc["spec"].pop("entrypoint")
        doc["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "two"

    problems = rayjob.check_rayjob_schema(Path("rayjob.yaml"), broken(job, misspell))
    assert any("spec: Additional properties" in p and "'entryPoint'" in p for p in problems)
    assert any(
        "workerGroupSpecs[0].replicas: 'two' is not of type 'integer'" in p for p in problems
    )


def test_a_head_without_the_index_volume_or_running_as_root_is_named(job: dict[str, Any]) -> None:
    def unmount(doc: dict[str, Any]) -> None:
        head = doc["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
        head["containers"][0]["volumeMounts"] = [
            m for m in head["containers"][0]["volumeMounts"] if m["name"] != "index"
        ]
        head["containers"][0]["securityContext"]["runAsNonRoot"] = False

    problems = wiring_problems(broken(job, unmount))
    assert (
        f"docker/k8s/ray/index-build-rayjob.yaml: {HEAD}.spec.containers[0].volumeMounts: nothing mounted at /data/index"
        in problems
    )
    assert any(
        f"{HEAD}.spec.containers[0].securityContext.runAsNonRoot is False" in p for p in problems
    )


def test_a_local_engine_entrypoint_or_a_foreign_image_is_named(job: dict[str, Any]) -> None:
    def local(doc: dict[str, Any]) -> None:
        doc["spec"]["entrypoint"] = "assistant index build --engine local"
        doc["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0][
            "image"
        ] = "rayproject/ray:latest"

    doc = broken(job, local)
    assert rayjob.check_ray_engine_argv("e", rayjob.entrypoint(doc)) == [
        "e: --engine is ['local'], expected ['ray']"
    ]
    assert any(
        "'rayproject/ray:latest'" in p for p in rayjob.check_images(Path("j"), doc, api_image())
    )


def test_a_ray_profile_build_without_its_head_is_named(compose: dict[str, Any]) -> None:
    doc = copy.deepcopy(compose)
    doc["services"]["ray-build"]["command"][-1] = "ray://elsewhere:10001"
    doc["services"]["ray-worker"]["build"]["args"]["EXTRAS"] = ""
    problems = rayjob.check_compose_ray_profile(Path("compose.yaml"), doc)
    assert any("'ray://elsewhere:10001' names no service" in p for p in problems)
    assert any("services.ray-worker.build.args.EXTRAS is ''" in p for p in problems)
