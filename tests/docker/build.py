"""Checks of how the image and CI are built: the Dockerfile installs the project the way the
Makefile does (and the wheel it installs is complete), runs offline as a non-root user, and
CI runs `make test` against the services the test suite expects."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from tests.docker.dockerfile import Instruction, exec_form, split_flags, stage_env, stage_names
from tests.docker.files import rel

BASE_IMAGE = "python:3.11-slim"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# pip options that take a value: their value is not a requirement.
_PIP_VALUE_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-r", "-c"}


def constraint_pin(constraints: Path, name: str) -> str | None:
    """The version ``constraints`` pins ``name`` to (``name==X``), or None."""
    for line in constraints.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(rf"\s*{re.escape(name)}\s*==\s*(\S+)\s*(?:#.*)?", line)
        if match:
            return match.group(1)
    return None


def check_constraints_used(constraints: Path, pyproject: Path, makefile: Path) -> list[str]:
    """The torch pin lives in the constraints file alone, and every Makefile install uses it."""
    problems = []
    if constraint_pin(constraints, "torch") is None:
        problems.append(f"{rel(constraints)}: no `torch==<version>` pin")
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    specs = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    problems += [
        f"{rel(pyproject)}: {spec!r} pins torch in the package metadata; the pin belongs in "
        f"{rel(constraints)}"
        for spec in specs
        if re.match(r"torch\s*===?", spec)
    ]
    text = makefile.read_text(encoding="utf-8")
    variables = dict(re.findall(r"^(\w+)\s*:?=\s*(.*)$", text, flags=re.MULTILINE))
    for line in text.splitlines():
        expanded = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), line)
        if line.startswith("\t") and re.search(r"pip install\b", expanded):
            args = shlex.split(expanded.split("pip install", 1)[1])
            if "--upgrade" in args and "pip" in args:
                continue  # pip upgrading itself
            if f"-c {constraints.name}" not in " ".join(args):
                problems.append(
                    f"{rel(makefile)}: `{line.strip()}` installs without -c {constraints.name}"
                )
    return problems


def pip_installs(ins: Instruction) -> list[list[str]]:
    """The arguments of every ``pip install`` inside one RUN."""
    installs = []
    for command in re.split(r"&&|;|\|\|", ins.value):
        words = shlex.split(command)
        for i in range(len(words) - 1):
            if words[i].endswith("pip") and words[i + 1] == "install":
                installs.append(words[i + 2 :])
                break
    return installs


def requirements(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in _PIP_VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def check_install(path: Path, instructions: list[Instruction], torch_pin: str) -> list[str]:
    """torch==<pin> from the CPU index first, then the project (``pip install .``) once."""
    torch_at = project_at = None
    problems = []
    for ins in instructions:
        if ins.keyword != "RUN":
            continue
        for args in pip_installs(ins):
            reqs = requirements(args)
            if any(r.split("[")[0] in {".", "./"} for r in reqs):
                if project_at is not None:
                    # A second install re-resolves and reinstalls everything for nothing.
                    problems.append(
                        f"{rel(path)}: {ins.where} installs the project again (first in "
                        f"{project_at.where}): install it once, with every extra"
                    )
                project_at = project_at or ins
            for req in reqs:
                if req.startswith("torch") and torch_at is None:
                    torch_at = ins
                    if req != f"torch=={torch_pin}":
                        problems.append(
                            f"{rel(path)}: {ins.where} installs {req!r}, expected 'torch=={torch_pin}'"
                        )
                    index = args[args.index("--index-url") + 1] if "--index-url" in args else None
                    if index != TORCH_CPU_INDEX:
                        problems.append(
                            f"{rel(path)}: {ins.where} torch --index-url is {index!r}, "
                            f"expected {TORCH_CPU_INDEX!r} (the CPU build)"
                        )
    if torch_at is None:
        problems.append(f"{rel(path)}: RUN: no `pip install torch=={torch_pin}`")
    if project_at is None:
        problems.append(f"{rel(path)}: RUN: no `pip install .` of the project")
    if torch_at and project_at and project_at.line <= torch_at.line:
        problems.append(
            f"{rel(path)}: {project_at.where} installs the project before torch "
            f"({torch_at.where}): pip would resolve the CUDA build"
        )
    return problems


def check_image(path: Path, instructions: list[Instruction]) -> list[str]:
    """Base image, venv copied from the builder, offline env, non-root uid, corpus, CMD."""
    problems = []
    last = max(ins.stage for ins in instructions)
    stages = stage_names(instructions)
    for ins in instructions:
        if ins.keyword == "FROM":
            image = split_flags(ins.value)[1].split()[0]
            if image != BASE_IMAGE:
                problems.append(f"{rel(path)}: {ins.where} is {image!r}, expected {BASE_IMAGE!r}")
    final = [ins for ins in instructions if ins.stage == last]
    copies = [(split_flags(i.value), i) for i in final if i.keyword == "COPY"]
    if not any(stages.get(flags.get("from", "").lower(), last) < last for (flags, _), _ in copies):
        problems.append(f"{rel(path)}: COPY --from=<builder>: the runtime stage copies no venv")
    env = stage_env(instructions, last)
    for key, want in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ASSISTANT_HOST": "0.0.0.0",
    }.items():
        if env.get(key) != want:
            problems.append(f"{rel(path)}: ENV {key} is {env.get(key)!r}, expected {want!r}")
    corpus = [
        rest.split()[-1] for (flags, rest), _ in copies if rest.split()[0].rstrip("/") == "corpus"
    ]
    if not corpus:
        problems.append(f"{rel(path)}: COPY corpus/: the image carries no corpus to index")
    elif PurePosixPath(env.get("ASSISTANT_CORPUS_DIR", "")) != PurePosixPath(corpus[0]):
        problems.append(
            f"{rel(path)}: ENV ASSISTANT_CORPUS_DIR is {env.get('ASSISTANT_CORPUS_DIR')!r}, "
            f"expected {corpus[0]!r} (where COPY puts the corpus)"
        )
    users = [i for i in final if i.keyword == "USER"]
    if not users or not users[-1].value.split(":")[0].isdigit() or users[-1].value.startswith("0"):
        got = users[-1].value if users else None
        problems.append(f"{rel(path)}: USER is {got!r}, expected a numeric non-root uid")
    for keyword in ("EXPOSE", "HEALTHCHECK"):
        if not any(i.keyword == keyword for i in final):
            problems.append(f"{rel(path)}: {keyword} is missing")
    cmd = [i for i in final if i.keyword == "CMD"]
    if not cmd or exec_form(cmd[-1].value) is None:
        problems.append(f"{rel(path)}: CMD must be the exec form (a JSON array)")
    return problems


def image_uid(instructions: list[Instruction]) -> int | None:
    users = [i for i in instructions if i.keyword == "USER"]
    uid = users[-1].value.split(":")[0] if users else ""
    return int(uid) if uid.isdigit() else None


def check_workflow(
    path: Path, doc: dict[str, Any], python: str, redis_port: int, pg: Any
) -> list[str]:
    """A job runs `make test` on ubuntu with Python ``python`` and Redis/PostgreSQL services
    matching what tests/conftest.py connects to (``pg`` is its SQLAlchemy URL)."""
    problems = []
    jobs = doc.get("jobs") or {}
    runners = {
        n: j
        for n, j in jobs.items()
        if any("make test" in (s.get("run") or "") for s in j.get("steps") or [])
    }
    if not runners:
        return [f"{rel(path)}: jobs.*.steps: no step runs `make test`"]
    name, job = next(iter(runners.items()))
    at = f"{rel(path)}: jobs.{name}"
    if not str(job.get("runs-on", "")).startswith("ubuntu"):
        problems.append(f"{at}.runs-on is {job.get('runs-on')!r}, expected an ubuntu runner")
    versions = [
        str((s.get("with") or {}).get("python-version"))
        for s in job["steps"]
        if "setup-python" in (s.get("uses") or "")
    ]
    if versions != [python]:
        problems.append(
            f"{at}.steps: setup-python python-version is {versions}, expected [{python!r}]"
        )
    services = job.get("services") or {}
    by_image = {str(s.get("image", "")).split(":")[0]: (n, s) for n, s in services.items()}
    for image, port in (("redis", redis_port), ("postgres", pg.port)):
        if image not in by_image:
            problems.append(f"{at}.services: no {image} service")
        elif f"{port}:{port}" not in [str(p) for p in by_image[image][1].get("ports") or []]:
            problems.append(
                f"{at}.services.{by_image[image][0]}.ports does not publish {port}:{port}"
            )
    if "postgres" in by_image:
        svc, service = by_image["postgres"]
        want = {"POSTGRES_HOST_AUTH_METHOD": "trust", "POSTGRES_DB": pg.database}
        for key, value in want.items():
            got = (service.get("env") or {}).get(key)
            if got != value:
                problems.append(f"{at}.services.{svc}.env.{key} is {got!r}, expected {value!r}")
    return problems


def package_files(root: Path, packages: list[str]) -> set[str]:
    """Every file below the top-level package folders, as wheel names (no bytecode)."""
    return {
        p.relative_to(root).as_posix()
        for package in packages
        for p in (root / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def check_wheel_contents(wheel: Path, root: Path, packages: list[str]) -> list[str]:
    """The wheel `pip install .` builds (the image's install) carries every package file;
    an editable install hides a missing one, the image does not."""
    with zipfile.ZipFile(wheel) as archive:
        inside = set(archive.namelist())
    return [
        f"pyproject.toml: [tool.setuptools] leaves {name!r} out of {wheel.name}, so the "
        "image (`pip install .` in docker/Dockerfile) would run without it"
        for name in sorted(package_files(root, packages) - inside)
    ]


def find_packages(pyproject: Path) -> list[str]:
    """Top-level package folders that [tool.setuptools.packages.find] includes."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    root = pyproject.parent
    return sorted(
        p.name
        for p in root.iterdir()
        if (p / "__init__.py").exists()
        and any(re.fullmatch(pat.replace("*", ".*"), p.name) for pat in patterns)
    )


def build_wheel(repo: Path, packages: list[str], work: Path) -> tuple[Path, Path]:
    """``pip wheel .`` as the Dockerfile's ``pip install .`` builds it: (source copy, wheel).

    Built from a copy, so the shared checkout gets no build/ or egg-info folder."""
    src = work / "src"
    for package in packages:
        shutil.copytree(repo / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (repo / name).exists():
            shutil.copy2(repo / name, src / name)
    dist = work / "dist"
    command = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation"]
    proc = subprocess.run(
        [*command, "-q", "-w", str(dist)], capture_output=True, text=True, timeout=300, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"`pip wheel .` failed: {proc.stderr[-2000:]}")
    [wheel] = dist.glob("*.whl")
    return src, wheel
