"""Kubernetes checks the schema cannot make: the manifests refer to each other by name, share
one image and one index volume, and run locked down. Each returns problems; empty is good."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from tests.docker.consistency import K8sDocs, our_containers
from tests.docker.files import load_manifest, pod_spec, rel

PLACEHOLDER = "CHANGE-ME"


def _names(docs: K8sDocs, kind: str) -> set[str]:
    return {(d.get("metadata") or {}).get("name", "") for _, d in docs if d.get("kind") == kind}


def check_references(docs: K8sDocs) -> list[str]:
    """envFrom, claims, the HPA target and the Service selector point at what exists."""
    problems = []
    configmaps, secrets = _names(docs, "ConfigMap"), _names(docs, "Secret")
    claims = _names(docs, "PersistentVolumeClaim")
    for path, _, field, container in our_containers(docs):
        for i, source in enumerate(container.get("envFrom") or []):
            for key, names in (("configMapRef", configmaps), ("secretRef", secrets)):
                ref = (source.get(key) or {}).get("name")
                if ref is not None and ref not in names:
                    problems.append(
                        f"{rel(path)}: {field}.envFrom[{i}].{key}.name is {ref!r}, "
                        f"expected one of {sorted(names)}"
                    )
    for path, doc in docs:
        found = pod_spec(doc)
        if found:
            prefix, spec = found
            for i, volume in enumerate(spec.get("volumes") or []):
                claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
                if claim is not None and claim not in claims:
                    problems.append(
                        f"{rel(path)}: {prefix}.volumes[{i}].persistentVolumeClaim.claimName is "
                        f"{claim!r}, expected one of {sorted(claims)}"
                    )
        spec = doc.get("spec") or {}
        if doc.get("kind") == "HorizontalPodAutoscaler":
            target = spec.get("scaleTargetRef") or {}
            if target.get("name") not in _names(docs, target.get("kind", "")):
                problems.append(
                    f"{rel(path)}: spec.scaleTargetRef is {target.get('kind')}/"
                    f"{target.get('name')}, which no manifest defines"
                )
        if doc.get("kind") == "Service":
            selector = spec.get("selector") or {}
            if not any(
                selector.items()
                <= ((d["spec"]["template"]["metadata"].get("labels") or {}).items())
                for _, d in docs
                if d.get("kind") == "Deployment"
            ):
                problems.append(
                    f"{rel(path)}: spec.selector {selector} selects no Deployment's pods"
                )
    return problems


def check_same_image(docs: K8sDocs) -> list[str]:
    """The API and the build job run one image: they must agree on index format and model."""
    images = {(rel(p), f): c.get("image") for p, _, f, c in our_containers(docs)}
    if len(set(images.values())) <= 1:
        return []
    return [f"{where}: {field}.image is {image!r}" for (where, field), image in images.items()]


def check_index_volume(docs: K8sDocs, image_env: dict[str, str]) -> list[str]:
    """Each container sees ASSISTANT_INDEX_DIR on a ReadWriteMany claim: read-only in the
    Deployment, read-write in the Job/CronJob that builds it."""
    problems = []
    for path, doc in docs:
        if doc.get("kind") == "PersistentVolumeClaim":
            modes = (doc.get("spec") or {}).get("accessModes") or []
            if "ReadWriteMany" not in modes:
                problems.append(f"{rel(path)}: spec.accessModes is {modes}, expected ReadWriteMany")
    configmaps = {
        d["metadata"]["name"]: d.get("data") or {} for _, d in docs if d.get("kind") == "ConfigMap"
    }
    for path, doc, field, container in our_containers(docs):
        env = dict(image_env)
        for source in container.get("envFrom") or []:
            env.update(configmaps.get((source.get("configMapRef") or {}).get("name"), {}))
        env.update({e["name"]: e.get("value") for e in container.get("env") or []})
        if not env.get("ASSISTANT_INDEX_DIR"):
            problems.append(
                f"{rel(path)}: {field}: ASSISTANT_INDEX_DIR is set neither by its ConfigMap, "
                "its env nor the image"
            )
            continue
        index_dir = PurePosixPath(env["ASSISTANT_INDEX_DIR"])
        mounts = [
            (i, m)
            for i, m in enumerate(container.get("volumeMounts") or [])
            if index_dir.is_relative_to(m.get("mountPath", "/nowhere"))
        ]
        if not mounts:
            problems.append(f"{rel(path)}: {field}.volumeMounts: nothing mounted at {index_dir}")
            continue
        i, mount = max(mounts, key=lambda im: len(im[1]["mountPath"]))
        volumes = {v["name"]: v for v in (pod_spec(doc) or ("", {}))[1].get("volumes") or []}
        if "persistentVolumeClaim" not in volumes.get(mount["name"], {}):
            problems.append(
                f"{rel(path)}: {field}.volumeMounts[{i}] ({mount['name']}) holds the index but "
                "is not a PersistentVolumeClaim"
            )
        want_ro = doc.get("kind") == "Deployment"
        if bool(mount.get("readOnly")) != want_ro:
            problems.append(
                f"{rel(path)}: {field}.volumeMounts[{i}].readOnly is {mount.get('readOnly')!r}, "
                f"expected {want_ro}"
            )
    return problems


def check_security(docs: K8sDocs, uid: int) -> list[str]:
    """Non-root as the image's uid, read-only root with an emptyDir /tmp, no privilege
    escalation, no capabilities, and CPU/memory requests and limits."""
    problems = []
    expected = {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
    }
    for path, doc, field, container in our_containers(docs):
        context = container.get("securityContext") or {}
        for key, want in expected.items():
            if context.get(key) != want:
                problems.append(
                    f"{rel(path)}: {field}.securityContext.{key} is {context.get(key)!r}, "
                    f"expected {want!r}"
                )
        drop = (context.get("capabilities") or {}).get("drop") or []
        if "ALL" not in drop:
            problems.append(
                f"{rel(path)}: {field}.securityContext.capabilities.drop is {drop}, expected ['ALL']"
            )
        volumes = {v["name"]: v for v in (pod_spec(doc) or ("", {}))[1].get("volumes") or []}
        tmp = [m for m in container.get("volumeMounts") or [] if m.get("mountPath") == "/tmp"]
        if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
            problems.append(f"{rel(path)}: {field}.volumeMounts has no emptyDir at /tmp")
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            for key in ("cpu", "memory"):
                if key not in (resources.get(section) or {}):
                    problems.append(f"{rel(path)}: {field}.resources.{section}.{key} is missing")
    return problems


def check_secret_placeholders(path: Path) -> list[str]:
    """A Secret template holds placeholders only, never a value someone could deploy."""
    doc = load_manifest(path)
    problems = []
    for section in ("data", "stringData"):
        for key, value in (doc.get(section) or {}).items():
            if PLACEHOLDER not in str(value):
                problems.append(
                    f"{rel(path)}: {section}.{key} is {value!r}, expected a placeholder "
                    f"containing {PLACEHOLDER!r}"
                )
    return problems


def check_kustomization(path: Path, not_listed: set[str]) -> list[str]:
    """kustomization.yaml lists every manifest of its folder except the ones kept out."""
    doc: dict[str, Any] = load_manifest(path)
    listed = set(doc.get("resources") or [])
    present = {p.name for p in path.parent.glob("*.yaml")} - {path.name}
    problems = [
        f"{rel(path)}: resources lists {name!r}, which does not exist"
        for name in sorted(listed - present)
    ]
    problems += [
        f"{rel(path)}: resources does not list {name!r}"
        for name in sorted(present - listed - not_listed)
    ]
    problems += [
        f"{rel(path)}: resources lists {name!r}, which must stay out"
        for name in sorted(listed & not_listed)
    ]
    return problems
