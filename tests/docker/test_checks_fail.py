"""Every deployment check can fail: fed a deliberately broken copy (in tmp_path), it reports
a problem that names the broken file and the field, and says what was expected."""

from __future__ import annotations

import copy
import zipfile
from pathlib import Path
from typing import Any

import click
import yaml
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from tests.docker import build, consistency, context, contract, k8s_wiring, schemas
from tests.docker.dockerfile import parse_dockerfile, read_dockerfile, stage_env
from tests.docker.files import (
    COMPOSE_FILE,
    DOCKERFILE,
    K8S_DIR,
    WORKFLOW,
    Found,
    configmap_data,
    k8s_docs,
    load_manifest,
)

CONTAINER = "spec.template.spec.containers[0]"


def write(tmp_path: Path, relative: str, content: Any) -> Path:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def with_broken(
    tmp_path: Path, name: str, break_it: Any
) -> tuple[Path, list[tuple[Path, dict[str, Any]]]]:
    """The real manifests, with ``name`` replaced by a broken copy written to tmp_path."""
    docs = []
    broken_path = tmp_path / "docker" / "k8s" / name
    for path, doc in k8s_docs():
        if path.name == name:
            doc = copy.deepcopy(doc)
            break_it(doc)
            path = write(tmp_path, f"docker/k8s/{name}", doc)
        docs.append((path, doc))
    return broken_path, docs


def api_container(doc: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = doc["spec"]["template"]["spec"]["containers"][0]
    return container


def test_readiness_probe_on_the_wrong_path_is_named(tmp_path: Path) -> None:
    def break_it(doc: dict[str, Any]) -> None:
        api_container(doc)["readinessProbe"]["httpGet"]["path"] = "/healthz"

    path, docs = with_broken(tmp_path, "deployment.yaml", break_it)
    problems = consistency.check_probe_paths(docs, {"readinessProbe": "/ready"})
    assert problems == [
        f"{path}: {CONTAINER}.readinessProbe.httpGet.path is '/healthz', expected '/ready'"
    ]


def test_unknown_field_fails_the_strict_kubernetes_schema(tmp_path: Path) -> None:
    doc = load_manifest(K8S_DIR / "deployment.yaml")
    api_container(doc)["imagePullPolice"] = "Always"
    path = write(tmp_path, "deployment.yaml", doc)
    [problem] = schemas.check_k8s_schema(path)
    assert problem.startswith(f"{path}: {CONTAINER}: ")
    assert "'imagePullPolice' was unexpected" in problem


def test_wrong_type_fails_the_kubernetes_schema(tmp_path: Path) -> None:
    doc = load_manifest(K8S_DIR / "hpa.yaml")
    doc["spec"]["minReplicas"] = "two"
    path = write(tmp_path, "hpa.yaml", doc)
    [problem] = schemas.check_k8s_schema(path)
    assert problem.startswith(f"{path}: spec.minReplicas: 'two' is not of type 'integer'")


def test_bad_condition_fails_the_compose_spec(tmp_path: Path) -> None:
    doc = load_manifest(COMPOSE_FILE)
    doc["services"]["api"]["depends_on"]["redis"]["condition"] = "service_ready"
    doc["services"]["redis"]["healthcheck"]["intervall"] = "5s"
    path = write(tmp_path, "compose.yaml", doc)
    problems = schemas.check_compose_schema(path)
    assert len(problems) == 2, problems
    assert problems[0].startswith(
        f"{path}: services.api.depends_on.redis.condition: 'service_ready'"
    )
    assert problems[1].startswith(f"{path}: services.redis.healthcheck: 'intervall'")


def test_missing_runner_fails_the_workflow_schema(tmp_path: Path) -> None:
    doc = schemas.workflow_document(WORKFLOW)
    del doc["jobs"]["test"]["runs-on"]
    path = write(tmp_path, "ci.yml", doc)
    assert schemas.check_workflow_schema(path) == [
        f"{path}: jobs.test: 'runs-on' is a required property"
    ]


def test_unknown_setting_name_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "configmap.yaml", "data:\n  ASSISTANT_INDEX_DIRECTORY: /data/index\n")
    assert contract.check_settings_names([path]) == [
        f"{path}: line 2: ASSISTANT_INDEX_DIRECTORY is not a field of assistant.settings.Settings "
        "(did you mean ASSISTANT_INDEX_DIR?)"
    ]


def test_setting_value_settings_rejects_is_named(tmp_path: Path) -> None:
    doc = {
        "kind": "ConfigMap",
        "data": {"ASSISTANT_PORT": "eighty", "ASSISTANT_LLM_BACKEND": "gpt"},
    }
    path = write(tmp_path, "configmap.yaml", doc)
    problems = contract.check_settings_values(configmap_data([(path, doc)]))
    assert [p.split(", which")[0] for p in problems] == [
        f"{path}: data.ASSISTANT_PORT is 'eighty'",
        f"{path}: data.ASSISTANT_LLM_BACKEND is 'gpt'",
    ]


def fake_cli() -> click.Group:
    """A real click CLI shaped like ours: `serve` and the group `index` with `build`."""

    @click.group()
    def main() -> None: ...

    @main.command()
    @click.option("--port", type=int)
    def serve(port: int | None) -> None: ...

    @main.group()
    def index() -> None: ...

    @index.command(name="build")
    @click.option("--corpus", type=click.Path(exists=True))
    def build_index(corpus: str | None) -> None: ...

    return main


def test_commands_the_cli_lacks_are_named(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    field = f"{CONTAINER}.command"
    argvs = {
        "ok": ["assistant", "index", "build", "--corpus", "/not/here/yet"],
        "typo": ["assistant", "index", "rebuild"],
        "group": ["assistant", "index"],
        "option": ["assistant", "serve", "--bogus"],
        "script": ["python", "-m", "assistant", "serve"],
    }
    found = [Found(path, f"{field}/{key}", argv) for key, argv in argvs.items()]
    problems = contract.check_cli_commands(found, contract.click_help_runner(fake_cli()))
    where = f"{path}: {field}"
    assert len(problems) == 4, problems
    assert problems[0].startswith(f"{where}/typo: `assistant index rebuild` is not accepted")
    assert "No such command 'rebuild'" in problems[0]
    assert problems[1].startswith(f"{where}/group: `assistant index` names a command group")
    assert problems[2].startswith(f"{where}/option: `assistant serve --bogus` is not accepted")
    assert "--bogus" in problems[2].split("CLI:")[1]
    assert problems[3].startswith(f"{where}/script is ['python', '-m', 'assistant', 'serve']")


def test_probe_path_the_app_lacks_is_named(tmp_path: Path) -> None:
    app = FastAPI()

    @app.get("/health")
    def read_health() -> dict[str, str]:
        return {"status": "ok"}

    path = tmp_path / "deployment.yaml"
    found = [
        Found(path, f"{CONTAINER}.livenessProbe.httpGet.path", (8000, "/health")),
        Found(path, f"{CONTAINER}.readinessProbe.httpGet.path", (8000, "/ready")),
    ]
    assert contract.check_http_paths(found, contract.get_router(app)) == [
        f"{path}: {CONTAINER}.readinessProbe.httpGet.path probes '/ready', "
        "which no GET route of the app serves"
    ]


def test_disagreeing_ports_are_named(tmp_path: Path) -> None:
    def break_configmap(doc: dict[str, Any]) -> None:
        doc["data"]["ASSISTANT_PORT"] = "8080"

    configmap, docs = with_broken(tmp_path, "configmap.yaml", break_configmap)
    service = write(tmp_path, "docker/k8s/service.yaml", load_manifest(K8S_DIR / "service.yaml"))
    docs = [(p, d) for p, d in docs if p.name != "service.yaml"]
    service_doc = load_manifest(service)
    service_doc["spec"]["ports"][0]["targetPort"] = "htttp"
    docs.append((service, service_doc))
    problems = consistency.check_values(consistency.k8s_ports(docs), 8000)
    assert problems == [
        f"{configmap}: data.ASSISTANT_PORT is 8080, expected 8000",
        f"{service}: spec.ports[0].targetPort is 'htttp', expected 8000",
    ]


BROKEN_DOCKERFILE = """\
FROM python:3.12-slim AS builder
COPY . /src
RUN pip install /src && pip install .
RUN pip install torch>=2 --index-url https://pypi.org/simple
FROM python:3.11-slim
USER root
CMD assistant serve
"""


def test_dockerfile_that_installs_the_project_before_torch_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "Dockerfile", BROKEN_DOCKERFILE)
    problems = build.check_install(path, parse_dockerfile(BROKEN_DOCKERFILE), "2.13.0")
    assert problems == [
        f"{path}: RUN (line 4) installs 'torch>=2', expected 'torch==2.13.0'",
        f"{path}: RUN (line 4) torch --index-url is 'https://pypi.org/simple', expected "
        "'https://download.pytorch.org/whl/cpu' (the CPU build)",
        f"{path}: RUN (line 3) installs the project before torch (RUN (line 4)): pip would "
        "resolve the CUDA build",
    ]


TWICE_DOCKERFILE = """\
FROM python:3.11-slim AS builder
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
ARG EXTRAS=""
RUN pip install -c constraints.txt '.[postgres]' \\
    && if [ -n "$EXTRAS" ]; then pip install -c constraints.txt ".[postgres,$EXTRAS]"; fi
"""


def test_dockerfile_that_installs_the_project_twice_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "Dockerfile", TWICE_DOCKERFILE)
    problems = build.check_install(path, parse_dockerfile(TWICE_DOCKERFILE), "2.13.0")
    assert problems == [
        f"{path}: RUN (line 4) installs the project again (first in RUN (line 4)): install it "
        "once, with every extra"
    ]


def test_torch_pinned_in_the_metadata_and_an_unconstrained_install_are_named(
    tmp_path: Path,
) -> None:
    constraints = write(tmp_path, "constraints.txt", "# no pins\n")
    pyproject = write(
        tmp_path,
        "pyproject.toml",
        '[project]\ndependencies = ["torch==2.13.0"]\n'
        '[project.optional-dependencies]\nx = ["torch===2.13.0+cpu"]\n',
    )
    makefile = write(
        tmp_path,
        "Makefile",
        "PIP := .venv/bin/pip install\nall:\n\t.venv/bin/pip install --upgrade pip\n"
        "\t$(PIP) -e .\n\t.venv/bin/pip install -c constraints.txt -e '.[dev]'\n",
    )
    problems = build.check_constraints_used(constraints, pyproject, makefile)
    assert problems == [
        f"{constraints}: no `torch==<version>` pin",
        f"{pyproject}: 'torch==2.13.0' pins torch in the package metadata; the pin belongs in "
        f"{constraints}",
        f"{pyproject}: 'torch===2.13.0+cpu' pins torch in the package metadata; the pin belongs "
        f"in {constraints}",
        f"{makefile}: `$(PIP) -e .` installs without -c constraints.txt",
    ]


def test_dockerfile_image_faults_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "Dockerfile", BROKEN_DOCKERFILE)
    problems = build.check_image(path, parse_dockerfile(BROKEN_DOCKERFILE))
    assert f"{path}: FROM (line 1) is 'python:3.12-slim', expected 'python:3.11-slim'" in problems
    assert f"{path}: ENV HF_HUB_OFFLINE is None, expected '1'" in problems
    assert f"{path}: USER is 'root', expected a numeric non-root uid" in problems
    assert f"{path}: CMD must be the exec form (a JSON array)" in problems
    assert f"{path}: HEALTHCHECK is missing" in problems


def test_dockerignore_that_drops_the_corpus_and_keeps_secrets_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ".dockerignore",
        "*\n!assistant\n!indexing\n!api\n!finetune\n!pyproject.toml\n!.env\n",
    )
    instructions = read_dockerfile(DOCKERFILE)
    [copy_corpus] = [
        i for i in instructions if i.keyword == "COPY" and i.value.startswith("corpus")
    ]
    problems = context.check_dockerignore(path, instructions, [".env"])
    assert f"{path}: excludes 'corpus', which {copy_corpus.where} copies" in problems
    assert problems[-1] == f"{path}: does not exclude '.env' from the build context"


def test_compose_api_writing_the_index_is_named(tmp_path: Path) -> None:
    doc = load_manifest(COMPOSE_FILE)
    doc["services"]["api"]["volumes"] = ["index-data:/data"]
    doc["services"]["api"]["depends_on"]["index-build"]["condition"] = "service_started"
    path = write(tmp_path, "compose.yaml", doc)
    instructions = read_dockerfile(DOCKERFILE)
    image_env = stage_env(instructions, max(i.stage for i in instructions))
    assert consistency.check_compose_index_volume(path, doc, image_env) == [
        f"{path}: services.api.volumes index-data:/data must be read-only (:ro)"
    ]
    assert consistency.check_compose_wiring(path, doc) == [
        f"{path}: services.api.depends_on.index-build.condition is 'service_started', "
        "expected 'service_completed_successfully'"
    ]


def test_k8s_wiring_faults_are_named(tmp_path: Path) -> None:
    def break_it(doc: dict[str, Any]) -> None:
        container = api_container(doc)
        container["securityContext"]["readOnlyRootFilesystem"] = False
        container["securityContext"]["capabilities"]["drop"] = []
        container["envFrom"][0]["configMapRef"]["name"] = "assistant-config"
        container["volumeMounts"][0]["readOnly"] = False
        container["image"] = "study-assistant:0.2.0"

    path, docs = with_broken(tmp_path, "deployment.yaml", break_it)
    security = k8s_wiring.check_security(docs, 10001)
    assert security == [
        f"{path}: {CONTAINER}.securityContext.readOnlyRootFilesystem is False, expected True",
        f"{path}: {CONTAINER}.securityContext.capabilities.drop is [], expected ['ALL']",
    ]
    [reference] = k8s_wiring.check_references(docs)
    assert reference.startswith(
        f"{path}: {CONTAINER}.envFrom[0].configMapRef.name is 'assistant-config'"
    )
    assert f"{path}: {CONTAINER}.image is 'study-assistant:0.2.0'" in k8s_wiring.check_same_image(
        docs
    )
    instructions = read_dockerfile(DOCKERFILE)
    image_env = stage_env(instructions, max(i.stage for i in instructions))
    volume = k8s_wiring.check_index_volume(docs, image_env)
    assert f"{path}: {CONTAINER}.volumeMounts[0].readOnly is False, expected True" in volume


def test_real_looking_secret_is_named(tmp_path: Path) -> None:
    doc = load_manifest(K8S_DIR / "secret.example.yaml")
    doc["stringData"]["ASSISTANT_ADMIN_KEY"] = "s3cr3t-admin"
    path = write(tmp_path, "secret.example.yaml", doc)
    assert k8s_wiring.check_secret_placeholders(path) == [
        f"{path}: stringData.ASSISTANT_ADMIN_KEY is 's3cr3t-admin', expected a placeholder "
        "containing 'CHANGE-ME'"
    ]


def test_kustomization_missing_a_manifest_is_named(tmp_path: Path) -> None:
    for name in ("deployment.yaml", "service.yaml", "secret.example.yaml"):
        write(tmp_path, name, load_manifest(K8S_DIR / name))
    path = write(
        tmp_path,
        "kustomization.yaml",
        {"resources": ["deployment.yaml", "secret.example.yaml", "hpa.yaml"]},
    )
    assert k8s_wiring.check_kustomization(path, {"secret.example.yaml"}) == [
        f"{path}: resources lists 'hpa.yaml', which does not exist",
        f"{path}: resources does not list 'service.yaml'",
        f"{path}: resources lists 'secret.example.yaml', which must stay out",
    ]


def test_workflow_against_other_services_is_named(tmp_path: Path) -> None:
    doc = schemas.workflow_document(WORKFLOW)
    doc["jobs"]["test"]["services"]["postgres"]["env"]["POSTGRES_DB"] = "app"
    doc["jobs"]["test"]["services"]["redis"]["ports"] = ["6380:6379"]
    path = tmp_path / "ci.yml"
    pg = make_url("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert build.check_workflow(path, doc, "3.11", 6379, pg) == [
        f"{path}: jobs.test.services.redis.ports does not publish 6379:6379",
        f"{path}: jobs.test.services.postgres.env.POSTGRES_DB is 'app', expected 'test'",
    ]


def test_package_file_missing_from_the_wheel_is_named(tmp_path: Path) -> None:
    write(tmp_path, "src/pkg/__init__.py", "")
    write(tmp_path, "src/pkg/data/prices.toml", "[models]\n")
    wheel = tmp_path / "pkg-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/__init__.py", "")
    assert build.check_wheel_contents(wheel, tmp_path / "src", ["pkg"]) == [
        "pyproject.toml: [tool.setuptools] leaves 'pkg/data/prices.toml' out of "
        "pkg-0.1-py3-none-any.whl, so the image (`pip install .` in docker/Dockerfile) "
        "would run without it"
    ]
