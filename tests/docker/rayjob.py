"""Checks of the Ray build's deployment files: the KubeRay ``RayJob`` and the compose
profile ``ray``. Each returns problems naming the file and the field; empty is good.

The RayJob is validated against the RayJob CRD's own ``openAPIV3Schema`` (vendored in
``schemas/ray.io_rayjobs.v1.yaml``, see its header), made strict the way
``kubectl apply --validate=strict`` treats custom resources: an object schema that lists
its ``properties`` and does not preserve unknown fields rejects any other field. The CRD's
CEL rules (``x-kubernetes-validations``) need an API server and are not evaluated.
Its pod templates are then held to the same Kubernetes checks as the Job's pod.
"""

from __future__ import annotations

import shlex
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.docker.files import DOCKER_DIR, compose_environment, rel

RAYJOB_FILE = DOCKER_DIR / "k8s" / "ray" / "index-build-rayjob.yaml"
RAYJOB_SCHEMA = Path(__file__).parent / "schemas" / "ray.io_rayjobs.v1.yaml"
PodDocs = list[tuple[Path, dict[str, Any]]]


def _closed(schema: Any) -> Any:
    """The schema with every listed-properties object closed to unknown fields."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def rayjob_schema() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schema: dict[str, Any] = yaml.load(RAYJOB_SCHEMA.read_text(encoding="utf-8"), Loader=loader)
    return _closed(schema)  # type: ignore[no-any-return]


def _dotted(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def check_rayjob_schema(path: Path, doc: dict[str, Any]) -> list[str]:
    """apiVersion/kind of a KubeRay RayJob, and the document against the CRD schema."""
    problems = []
    if (doc.get("apiVersion"), doc.get("kind")) != ("ray.io/v1", "RayJob"):
        problems.append(
            f"{rel(path)}: apiVersion/kind is {doc.get('apiVersion')}/{doc.get('kind')}, "
            "expected ray.io/v1/RayJob"
        )
    validator = jsonschema.Draft202012Validator(rayjob_schema())
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        problems.append(
            f"{rel(path)}: {_dotted(error.absolute_path)}: {error.message} (RayJob CRD schema)"
        )
    return problems


def pod_templates(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(field path, pod template) of the head, each worker group and the submitter."""
    spec = doc.get("spec") or {}
    cluster = spec.get("rayClusterSpec") or {}
    found = [
        (
            "spec.rayClusterSpec.headGroupSpec.template",
            (cluster.get("headGroupSpec") or {}).get("template"),
        )
    ]
    for i, group in enumerate(cluster.get("workerGroupSpecs") or []):
        found.append((f"spec.rayClusterSpec.workerGroupSpecs[{i}].template", group.get("template")))
    if spec.get("submitterPodTemplate"):
        found.append(("spec.submitterPodTemplate", spec["submitterPodTemplate"]))
    return [(field, t) for field, t in found if isinstance(t, dict)]


def as_jobs(path: Path, doc: dict[str, Any]) -> list[tuple[str, tuple[Path, dict[str, Any]]]]:
    """Each pod template as a Job document, so the Job's own checks apply to it unchanged."""
    return [
        (field, (path, {"kind": "Job", "metadata": {}, "spec": {"template": template}}))
        for field, template in pod_templates(doc)
    ]


def relabel(problems: list[str], field: str) -> list[str]:
    """A Job check's messages, pointing at the RayJob's field instead of the Job's."""
    return [p.replace("spec.template", field) for p in problems]


def check_pod_schemas(path: Path, doc: dict[str, Any], version: str) -> list[str]:
    """Each pod template is a valid Pod of that Kubernetes version (strict)."""
    problems = []
    for field, template in pod_templates(doc):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "ray-pod", **(template.get("metadata") or {})},
            "spec": template.get("spec") or {},
        }
        try:
            kubernetes_validate.validate(pod, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = _dotted(exc.path).replace("spec", f"{field}.spec", 1)
            problems.append(f"{rel(path)}: {where}: {exc.message} (Kubernetes {version}, strict)")
    return problems


def check_images(path: Path, doc: dict[str, Any], api_image: str) -> list[str]:
    """Every Ray pod runs the API's image, tagged ``-ray`` (the same code plus the extra)."""
    want = f"{api_image}-ray"
    return [
        f"{rel(path)}: {field}.spec.containers[{i}].image is {c.get('image')!r}, expected {want!r}"
        for field, template in pod_templates(doc)
        for i, c in enumerate((template.get("spec") or {}).get("containers") or [])
        if c.get("image") != want
    ]


def entrypoint(doc: dict[str, Any]) -> list[str]:
    return shlex.split(str((doc.get("spec") or {}).get("entrypoint") or ""))


def check_ray_engine_argv(where: str, argv: list[str]) -> list[str]:
    """`assistant index build` with `--engine ray`."""
    if argv[:3] != ["assistant", "index", "build"] or "--engine" not in argv:
        return [f"{where} is {argv!r}, expected `assistant index build --engine ray ...`"]
    engine = argv[argv.index("--engine") + 1 : argv.index("--engine") + 2]
    return [] if engine == ["ray"] else [f"{where}: --engine is {engine}, expected ['ray']"]


def check_compose_ray_profile(path: Path, compose: dict[str, Any]) -> list[str]:
    """Head, worker and build of the profile: the `ray` image extra, the build's address
    naming the healthy head, the worker joining it."""
    services = compose.get("services") or {}
    ray = {n: s for n, s in services.items() if "ray" in (s.get("profiles") or [])}
    problems = []
    for name, service in ray.items():
        args = (service.get("build") or {}).get("args") or {}
        if args.get("EXTRAS") != "ray":
            problems.append(
                f"{rel(path)}: services.{name}.build.args.EXTRAS is {args.get('EXTRAS')!r}, "
                "expected 'ray' (the image with the `ray` extra)"
            )
    builds = [n for n, s in ray.items() if (s.get("command") or [""])[0] == "assistant"]
    if len(builds) != 1:
        return [*problems, f"{rel(path)}: profile ray has {len(builds)} build services, expected 1"]
    name = builds[0]
    argv = list(ray[name]["command"])
    problems += check_ray_engine_argv(f"{rel(path)}: services.{name}.command", argv)
    address = argv[argv.index("--ray-address") + 1] if "--ray-address" in argv else ""
    head = address.removeprefix("ray://").split(":")[0]
    depends = ray[name].get("depends_on") or {}
    if head not in ray:
        problems.append(
            f"{rel(path)}: services.{name}.command --ray-address {address!r} names no "
            "service of the profile"
        )
    elif (depends.get(head) or {}).get("condition") != "service_healthy":
        problems.append(
            f"{rel(path)}: services.{name}.depends_on.{head}.condition must be service_healthy"
        )
    for other, service in ray.items():
        command = [str(a) for a in service.get("command") or []]
        if other not in (name, head) and f"--address={head}:6379" not in command:
            problems.append(
                f"{rel(path)}: services.{other}.command does not join {head}:6379 ({command})"
            )
    env = compose_environment(ray[name])
    if not env.get("ASSISTANT_INDEX_DIR"):
        problems.append(f"{rel(path)}: services.{name}.environment.ASSISTANT_INDEX_DIR is unset")
    return problems
