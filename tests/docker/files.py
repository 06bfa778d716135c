"""Where the deployment files are, how they are read, and what each one declares.

Every fact pulled out of a file is a ``Found``: the file, the field inside it (a dotted
path such as ``spec.template.spec.containers[0].readinessProbe.httpGet.path``) and the
value, so a check that rejects it can name both.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.docker.dockerfile import (
    Instruction,
    env_pairs,
    exec_form,
    read_dockerfile,
    split_flags,
)

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "docker"
K8S_DIR = DOCKER_DIR / "k8s"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
LLM_ENV_EXAMPLE = DOCKER_DIR / "llm.env.example"
DOCKERIGNORE = REPO / ".dockerignore"
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
MAKEFILE = REPO / "Makefile"
PYPROJECT = REPO / "pyproject.toml"
CONSTRAINTS = REPO / "constraints.txt"

# http://host:PORT/path inside a healthcheck command.
_URL = re.compile(r"https?://[^/\s'\":]+:(\d+)(/[^\s'\"),;]*)?")


def rel(path: Path) -> str:
    """The path as the problem messages show it: relative to the repository when inside."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Found:
    """One declared value and where it is declared."""

    file: Path
    field: str
    value: Any

    @property
    def where(self) -> str:
        return f"{rel(self.file)}: {self.field}"


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def load_manifest(path: Path) -> dict[str, Any]:
    """The one document of a Kubernetes manifest or compose file."""
    docs = load_yaml_documents(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise ValueError(f"{rel(path)}: expected one YAML mapping, found {len(docs)} documents")
    return docs[0]


def k8s_files(directory: Path = K8S_DIR) -> list[Path]:
    """The Kubernetes manifests (kustomization.yaml is a kustomize file, not a resource)."""
    return sorted(p for p in directory.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_docs(directory: Path = K8S_DIR) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, load_manifest(path)) for path in k8s_files(directory)]


# --- Kubernetes ------------------------------------------------------------------------


def pod_spec(doc: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The pod template's spec of a workload, with its field path."""
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return "spec.template.spec", (spec.get("template") or {}).get("spec") or {}
    if kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        return "spec.jobTemplate.spec.template.spec", template.get("spec") or {}
    return None


def containers(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, container) for every container of a workload."""
    found = pod_spec(doc)
    if found is None:
        return
    prefix, spec = found
    for i, container in enumerate(spec.get("containers") or []):
        yield f"{prefix}.containers[{i}]", container


def k8s_commands(docs: list[tuple[Path, dict[str, Any]]]) -> list[Found]:
    """The argv each container runs (command + args)."""
    found: list[Found] = []
    for path, doc in docs:
        for field, container in containers(doc):
            argv = [*(container.get("command") or []), *(container.get("args") or [])]
            if argv:
                found.append(Found(path, f"{field}.command", argv))
    return found


def named_ports(docs: list[tuple[Path, dict[str, Any]]]) -> dict[str, int]:
    ports: dict[str, int] = {}
    for _, doc in docs:
        for _, container in containers(doc):
            for port in container.get("ports") or []:
                if port.get("name"):
                    ports[port["name"]] = port.get("containerPort")
    return ports


def configmap_data(docs: list[tuple[Path, dict[str, Any]]]) -> list[Found]:
    """Every key of every ConfigMap's data and Secret's data/stringData."""
    found: list[Found] = []
    for path, doc in docs:
        if doc.get("kind") in {"ConfigMap", "Secret"}:
            for section in ("data", "stringData"):
                for key, value in (doc.get(section) or {}).items():
                    found.append(Found(path, f"{section}.{key}", value))
    return found


# --- compose ---------------------------------------------------------------------------


def compose_environment(service: dict[str, Any]) -> dict[str, Any]:
    """A service's environment as a mapping (the list form ``A=1`` / ``A`` included)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {name: (value if sep else None) for name, sep, value in pairs}
    return dict(env)


def compose_commands(path: Path, compose: dict[str, Any]) -> list[Found]:
    found: list[Found] = []
    for name, service in (compose.get("services") or {}).items():
        command = service.get("command")
        if command is None:
            continue
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        found.append(Found(path, f"services.{name}.command", argv))
    return found


def healthcheck_text(test: Any) -> str:
    """The command of a compose healthcheck ``test`` as one string."""
    if isinstance(test, list):
        return " ".join(str(part) for part in test)
    return str(test or "")


def urls_in(text: str) -> list[tuple[int, str]]:
    """(port, path) of every http://host:port/path in a command."""
    return [(int(m.group(1)), m.group(2) or "/") for m in _URL.finditer(text)]


def parse_volume(spec: Any) -> tuple[str, str, bool]:
    """(source, target, read_only) of a compose volume, short or long syntax."""
    if isinstance(spec, dict):
        return str(spec.get("source", "")), str(spec.get("target", "")), bool(spec.get("read_only"))
    parts = str(spec).split(":")
    if len(parts) == 1:
        return "", parts[0], False
    mode = parts[2].split(",") if len(parts) > 2 else []
    return parts[0], parts[1], "ro" in mode


# --- Dockerfile ------------------------------------------------------------------------


def dockerfile_facts(path: Path) -> tuple[list[Instruction], int]:
    """The instructions and the index of the final (runtime) stage."""
    instructions = read_dockerfile(path)
    return instructions, max((ins.stage for ins in instructions), default=-1)


def dockerfile_command(path: Path) -> Found | None:
    """ENTRYPOINT + CMD of the final stage, as the argv the container runs by default."""
    instructions, last = dockerfile_facts(path)
    entry: list[str] = []
    cmd: list[str] | None = None
    where = "CMD"
    for ins in instructions:
        if ins.stage != last or ins.keyword not in {"CMD", "ENTRYPOINT"}:
            continue
        argv = exec_form(ins.value)
        if argv is None:
            # The shell form runs under /bin/sh -c: not an argv a check can resolve.
            argv = ["/bin/sh", "-c", ins.value]
        if ins.keyword == "ENTRYPOINT":
            entry = argv
        else:
            cmd, where = argv, ins.where
    if cmd is None and not entry:
        return None
    return Found(path, where, [*entry, *(cmd or [])])


def dockerfile_healthcheck(path: Path) -> Found | None:
    instructions, last = dockerfile_facts(path)
    for ins in instructions:
        if ins.stage == last and ins.keyword == "HEALTHCHECK":
            _, rest = split_flags(ins.value)
            return Found(path, ins.where, rest)
    return None


def dockerfile_env(path: Path) -> list[Found]:
    instructions, last = dockerfile_facts(path)
    found: list[Found] = []
    for ins in instructions:
        if ins.stage == last and ins.keyword == "ENV":
            for key, value in env_pairs(ins.value).items():
                found.append(Found(path, f"{ins.where} {key}", value))
    return found


def env_file_pairs(path: Path) -> list[Found]:
    """KEY=value lines of an env file such as llm.env.example."""
    found: list[Found] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            found.append(Found(path, f"line {number} {key.strip()}", value.strip()))
    return found


def compose_env(path: Path, compose: dict[str, Any]) -> list[Found]:
    """Every environment entry of every compose service."""
    found: list[Found] = []
    for name, service in (compose.get("services") or {}).items():
        for key, value in compose_environment(service).items():
            found.append(Found(path, f"services.{name}.environment.{key}", value))
    return found


def env_name(field: str) -> str:
    """The variable a Found's field ends with (``data.ASSISTANT_PORT`` -> ``ASSISTANT_PORT``)."""
    return field.rsplit(".", 1)[-1].split()[-1]


def dockerfile_http_checks(path: Path) -> list[Found]:
    """(port, path) of every URL the image's HEALTHCHECK requests."""
    found = dockerfile_healthcheck(path)
    return [Found(path, found.field, url) for url in urls_in(found.value)] if found else []


def dockerfile_ports(path: Path) -> list[Found]:
    """EXPOSE, the HEALTHCHECK URL's port and ENV ASSISTANT_PORT of the final stage."""
    instructions, last = dockerfile_facts(path)
    found = [
        Found(path, ins.where, int(port) if port.isdigit() else port)
        for ins in instructions
        if ins.stage == last and ins.keyword == "EXPOSE"
        for port in (word.split("/")[0] for word in ins.value.split())
    ]
    found += [Found(f.file, f.field, f.value[0]) for f in dockerfile_http_checks(path)]
    found += [
        Found(f.file, f.field, int(f.value) if f.value.isdigit() else f.value)
        for f in dockerfile_env(path)
        if f.field.endswith(" ASSISTANT_PORT")
    ]
    return found
