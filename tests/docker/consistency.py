"""Cross-file checks of compose and Kubernetes: ports, probes, the index volume, names,
security. Each returns a list of problems naming the file and the field; empty is good."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from tests.docker.files import (
    Found,
    compose_environment,
    containers,
    healthcheck_text,
    named_ports,
    parse_volume,
    rel,
    urls_in,
)

IMAGE_NAME = "study-assistant"
K8sDocs = list[tuple[Path, dict[str, Any]]]


def is_our_image(image: str | None) -> bool:
    repository = (image or "").rsplit(":", 1)[0]
    return repository.rsplit("/", 1)[-1] == IMAGE_NAME


def check_values(found: Iterable[Found], expected: Any) -> list[str]:
    """Each found value equals ``expected``."""
    return [
        f"{item.where} is {item.value!r}, expected {expected!r}"
        for item in found
        if item.value != expected
    ]


# --- compose ---------------------------------------------------------------------------


def our_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose.get("services") or {}
    return {n: s for n, s in services.items() if "build" in s or is_our_image(s.get("image"))}


def runs_our_cli(service: dict[str, Any]) -> bool:
    """The service runs `assistant ...` (or the image's default command, `assistant serve`)."""
    command = service.get("command")
    if command is None:
        return True
    argv = command.split() if isinstance(command, str) else list(command)
    return bool(argv) and argv[0] == "assistant"


def compose_ports(path: Path, compose: dict[str, Any]) -> list[Found]:
    """Container-side ports, healthcheck URL ports and ASSISTANT_PORT of our services."""
    found = []
    for name, service in our_services(compose).items():
        at = f"services.{name}"
        for i, port in enumerate(service.get("ports") or []):
            target = port.get("target") if isinstance(port, dict) else str(port).split(":")[-1]
            target = str(target).split("/")[0]
            found.append(
                Found(path, f"{at}.ports[{i}]", int(target) if target.isdigit() else target)
            )
        test = healthcheck_text((service.get("healthcheck") or {}).get("test"))
        for port, _ in urls_in(test):
            found.append(Found(path, f"{at}.healthcheck.test", port))
        env_port = compose_environment(service).get("ASSISTANT_PORT")
        if env_port is not None:
            found.append(Found(path, f"{at}.environment.ASSISTANT_PORT", int(env_port)))
    return found


def compose_http_checks(path: Path, compose: dict[str, Any]) -> list[Found]:
    """(port, path) of every healthcheck URL of our services."""
    found = []
    for name, service in our_services(compose).items():
        healthcheck = service.get("healthcheck") or {}
        if healthcheck.get("disable"):
            continue
        for url in urls_in(healthcheck_text(healthcheck.get("test"))):
            found.append(Found(path, f"services.{name}.healthcheck.test", url))
    return found


def check_compose_wiring(path: Path, compose: dict[str, Any], api: str = "api") -> list[str]:
    """The API waits for healthy Redis/PostgreSQL and a finished index build, and its
    Redis/PostgreSQL URLs name services of this file."""
    services = compose.get("services") or {}
    service = services.get(api) or {}
    env = compose_environment(service)
    depends = service.get("depends_on") or {}
    problems = []
    for var in ("ASSISTANT_REDIS_URL", "ASSISTANT_DATABASE_URL"):
        host = urlsplit(str(env.get(var) or "")).hostname
        if host not in services:
            problems.append(
                f"{rel(path)}: services.{api}.environment.{var} points at host {host!r}, "
                f"which is not a service of this file"
            )
            continue
        expected = "service_healthy"
        condition = (
            (depends.get(host) or {}).get("condition") if isinstance(depends, dict) else None
        )
        if condition != expected:
            problems.append(
                f"{rel(path)}: services.{api}.depends_on.{host}.condition is {condition!r}, "
                f"expected {expected!r}"
            )
        if not (services[host].get("healthcheck") or {}).get("test"):
            problems.append(f"{rel(path)}: services.{host}.healthcheck.test is missing")
    # Services of a profile (e.g. `ray`) start only when asked: the API cannot wait for them.
    builders = [n for n, s in our_services(compose).items() if n != api and not s.get("profiles")]
    for name in builders:
        condition = (
            (depends.get(name) or {}).get("condition") if isinstance(depends, dict) else None
        )
        if condition != "service_completed_successfully":
            problems.append(
                f"{rel(path)}: services.{api}.depends_on.{name}.condition is {condition!r}, "
                "expected 'service_completed_successfully'"
            )
        if services[name].get("restart") != "no":
            problems.append(
                f"{rel(path)}: services.{name}.restart is {services[name].get('restart')!r}, "
                "expected 'no' (a one-shot job)"
            )
    return problems


def check_compose_index_volume(
    path: Path, compose: dict[str, Any], image_env: dict[str, str], api: str = "api"
) -> list[str]:
    """The API mounts the index read-only; every other service of our image (the build)
    mounts the same named volume read-write; all see the index at the same place."""
    problems = []
    volumes = compose.get("volumes") or {}
    seen: set[tuple[str, str]] = set()
    for name, service in our_services(compose).items():
        if not runs_our_cli(service):
            continue  # a Ray node: it gets bytes and texts through Ray, never the index
        index_dir = PurePosixPath(
            compose_environment(service).get("ASSISTANT_INDEX_DIR")
            or image_env.get("ASSISTANT_INDEX_DIR", "")
        )
        mounts = [parse_volume(spec) for spec in service.get("volumes") or []]
        holding = [(s, t, ro) for s, t, ro in mounts if index_dir.is_relative_to(t)]
        if not holding:
            problems.append(
                f"{rel(path)}: services.{name}.volumes mounts nothing at ASSISTANT_INDEX_DIR "
                f"{str(index_dir)!r}"
            )
            continue
        source, target, read_only = max(holding, key=lambda m: len(m[1]))
        if source not in volumes:
            problems.append(
                f"{rel(path)}: services.{name}.volumes: {source!r} (holding {index_dir}) is not "
                "a named volume of the top-level `volumes`"
            )
        if read_only != (name == api):
            want = "read-only (:ro)" if name == api else "read-write"
            problems.append(
                f"{rel(path)}: services.{name}.volumes {source}:{target} must be {want}"
            )
        seen.add((source, str(index_dir.relative_to(target))))
    if len(seen) > 1:
        problems.append(
            f"{rel(path)}: services.*.volumes: the services see different index locations "
            f"{sorted(seen)}"
        )
    return problems


# --- Kubernetes ------------------------------------------------------------------------


def our_containers(docs: K8sDocs) -> list[tuple[Path, dict[str, Any], str, dict[str, Any]]]:
    """(file, document, field path, container) of every container running our image."""
    return [
        (path, doc, field, container)
        for path, doc in docs
        for field, container in containers(doc)
        if is_our_image(container.get("image"))
    ]


def _resolve(port: Any, names: dict[str, int]) -> Any:
    return names.get(port, port) if isinstance(port, str) else port


def k8s_ports(docs: K8sDocs) -> list[Found]:
    names = named_ports(docs)
    found = []
    for path, _, field, container in our_containers(docs):
        for i, port in enumerate(container.get("ports") or []):
            found.append(
                Found(path, f"{field}.ports[{i}].containerPort", port.get("containerPort"))
            )
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            http = (container.get(probe) or {}).get("httpGet")
            if http:
                port = _resolve(http.get("port"), names)
                found.append(Found(path, f"{field}.{probe}.httpGet.port", port))
    for path, doc in docs:
        if doc.get("kind") == "Service":
            for i, port in enumerate((doc.get("spec") or {}).get("ports") or []):
                target = _resolve(port.get("targetPort", port.get("port")), names)
                found.append(Found(path, f"spec.ports[{i}].targetPort", target))
        if doc.get("kind") == "ConfigMap" and "ASSISTANT_PORT" in (doc.get("data") or {}):
            found.append(Found(path, "data.ASSISTANT_PORT", int(doc["data"]["ASSISTANT_PORT"])))
    return found


def k8s_http_checks(docs: K8sDocs) -> list[Found]:
    """(port, path) of every HTTP probe of our containers."""
    names = named_ports(docs)
    found = []
    for path, _, field, container in our_containers(docs):
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            http = (container.get(probe) or {}).get("httpGet")
            if http:
                port = _resolve(http.get("port"), names)
                found.append(Found(path, f"{field}.{probe}.httpGet.path", (port, http.get("path"))))
    return found


def check_probe_paths(docs: K8sDocs, expected: dict[str, str]) -> list[str]:
    """Each long-running container has each probe, on the expected path."""
    problems = []
    for path, doc, field, container in our_containers(docs):
        if doc.get("kind") != "Deployment":
            continue
        for probe, want in expected.items():
            got = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
            if got != want:
                problems.append(
                    f"{rel(path)}: {field}.{probe}.httpGet.path is {got!r}, expected {want!r}"
                )
    return problems
