"""Schema checks: each returns a list of problems, empty when the file is valid.

- Kubernetes manifests against the official Kubernetes JSON schemas that the
  ``kubernetes-validate`` package carries, pinned to one Kubernetes version, in strict
  mode (an unknown field is an error, as ``kubectl apply --validate=strict`` treats it).
- The compose file against the Compose Specification schema and the CI workflow against
  the GitHub workflow schema, both as vendored by the ``check-jsonschema`` package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

from tests.docker.files import load_manifest, load_yaml_documents, rel

# The oldest Kubernetes minor these manifests promise to run on.
K8S_VERSION = "1.30"


def dotted(path: Iterable[Any]) -> str:
    """A JSON path as ``spec.containers[0].image``; ``<root>`` for the document itself."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def check_k8s_schema(path: Path, version: str = K8S_VERSION) -> list[str]:
    """Problems of one Kubernetes manifest (strict schema of the given version)."""
    problems: list[str] = []
    for doc in load_yaml_documents(path):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(
                f"{rel(path)}: {dotted(exc.path)}: {exc.message} "
                f"(Kubernetes {exc.version} schema, strict)"
            )
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{rel(path)}: apiVersion/kind: {exc.message}")
    return problems


@cache
def vendored_schema(name: str) -> dict[str, Any]:
    """A schema vendored by check-jsonschema (``compose-spec``, ``github-workflows``)."""
    files = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((files / f"{name}.json").read_text(encoding="utf-8"))
    return schema


def _jsonschema_problems(path: Path, doc: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [_deepest(error) for error in validator.iter_errors(doc)]
    paths = [tuple(error.absolute_path) for error in errors]
    problems = []
    for error, at in zip(errors, paths, strict=True):
        # A service with one bad field also fails `unevaluatedProperties` for all its other
        # fields (they count as evaluated only when the whole allOf passes): noise when the
        # real error below it is reported too.
        if error.validator == "unevaluatedProperties" and any(
            len(other) > len(at) and other[: len(at)] == at for other in paths
        ):
            continue
        problems.append(f"{rel(path)}: {dotted(at)}: {error.message}")
    return sorted(problems)


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For oneOf/anyOf, the branch error that got furthest into the document."""
    if not error.context:
        return error
    return _deepest(max(error.context, key=lambda e: len(e.absolute_path)))


def check_compose_schema(path: Path) -> list[str]:
    """Problems of a compose file against the Compose Specification schema."""
    return _jsonschema_problems(path, load_manifest(path), vendored_schema("compose-spec"))


def workflow_document(path: Path) -> dict[str, Any]:
    """A workflow as GitHub reads it: YAML 1.1 turns the key ``on`` into True; undo that."""
    doc = load_manifest(path)
    if True in doc:
        doc["on"] = doc.pop(True)  # type: ignore[call-overload]
    return doc


def check_workflow_schema(path: Path) -> list[str]:
    """Problems of a GitHub Actions workflow against its schema."""
    return _jsonschema_problems(path, workflow_document(path), vendored_schema("github-workflows"))
