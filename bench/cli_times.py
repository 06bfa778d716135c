"""Wall time of `assistant` commands from the shell: a reference tree beside this one.

Each command runs as a fresh process (the console script next to this Python, with
``PYTHONPATH`` pointing at the tree), ``--runs`` times; the median is reported. The
reference tree is ``--before REF`` exported with ``git archive`` (default: the commit
before the CLI became its own layer). `search` and `ask` are also timed through a running
`assistant serve` of this tree (``ASSISTANT_SERVER_URL``), which keeps the model loaded.

    .venv/bin/python bench/cli_times.py --index-dir var/index > bench/out/cli_times.json

Issue 16 (default): the reference is ``main`` before that round (``7763282``: `search` and
`ask` built the whole service, every import at the top), both trees run with the same
``--backend`` (default onnx-int8, which that tree had as an option), so the ratio is the
code path alone; ``--help`` is the floor of any command, and ``target_s`` (2 s) is checked
for local `search` and `ask` (no server).

Needs a published index (`assistant index build`). Prints one JSON document:
``{"commands": {name: {"before", "after", "ratio_wall", "ratio_cpu"}}, "server": {name:
{"local", "via_server", "ratio_wall"}}, "machine"}``, each time as ``{"wall_s", "cpu_s"}``
(medians; CPU = user + system of the process tree, steadier than wall time on a busy
machine) and each ratio new / old (below 1 is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BASELINE_REF = "7763282"  # main before issue 16's start-up work (d8876dc: before the CLI package)
TARGET_S = 2.0  # issue 16: `assistant search` / `ask` from the shell, without a server
SCRIPT = Path(sys.executable).parent / "assistant"
COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "--version": ["--version"],
    "index status": ["index", "status"],
    "costs": ["costs"],
    "search": ["search", "ridge", "--k", "3"],
    "ask": ["ask", "when should I use lasso instead of ridge?"],
}
HEAVY = ("search", "ask")  # they load the embedding model when run locally


def timed(args: list[str], tree: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [str(SCRIPT), *args], env={**env, "PYTHONPATH": str(tree)}, cwd=REPO,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 and args != ["--version"]:  # the reference tree has no --version
        raise RuntimeError(f"assistant {' '.join(args)} failed: {proc.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def median_time(args: list[str], tree: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    """Median wall and CPU seconds: on a loaded machine the CPU time moves less than the wall."""
    samples = [timed(args, tree, env) for _ in range(runs)]
    return {
        "wall_s": round(statistics.median(w for w, _ in samples), 3),
        "cpu_s": round(statistics.median(c for _, c in samples), 3),
    }


def export_tree(ref: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


class Server:
    """`assistant serve` of this tree on a free port, until the block ends."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.url = env, f"http://127.0.0.1:{port}"
        self.port = port

    def __enter__(self) -> Server:
        import httpx

        self.proc = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(self.port)],
            env={**self.env, "PYTHONPATH": str(REPO)}, cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.proc.terminate()
        raise RuntimeError("assistant serve did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def via_server(env: dict[str, str], args: Any, results: dict[str, Any]) -> dict[str, Any]:
    """search and ask through a running server; the ratio is against the local run."""
    server: dict[str, Any] = {}
    with Server(env, args.port) as srv:
        remote_env = {**env, "ASSISTANT_SERVER_URL": srv.url}
        for name in HEAVY:
            via = median_time(COMMANDS[name], REPO, remote_env, args.runs)
            local = results.get(name, {}).get("after")
            ratio = round(via["wall_s"] / local["wall_s"], 3) if local else None
            server[name] = {"local": local, "via_server": via, "ratio_wall": ratio}
            print(f"{name} via server: {via}", file=sys.stderr)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, default=REPO / "var" / "index")
    parser.add_argument("--before", default=BASELINE_REF, help="git ref of the reference tree")
    parser.add_argument("--runs", type=int, default=5, help="runs per light command")
    parser.add_argument("--heavy-runs", type=int, default=3, help="runs of local search/ask")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--only", action="append", choices=list(COMMANDS), help="time only these (repeatable)"
    )
    parser.add_argument("--no-server", action="store_true", help="skip the runs via a server")
    parser.add_argument(
        "--backend", default="onnx-int8", help="ASSISTANT_EMBEDDING_BACKEND of both trees"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cli-times-"))
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "ASSISTANT_INDEX_DIR": str(args.index_dir.resolve()),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{work / 'ledger.db'}",
        "ASSISTANT_REDIS_URL": "",
        "ASSISTANT_SERVER_URL": "",
        "ASSISTANT_EMBEDDING_BACKEND": args.backend,
    }
    before_tree = export_tree(args.before, work / "before")
    # Each tree its own ledger: the newer one migrates past revisions the older one lacks.
    env_before = {**env, "ASSISTANT_DATABASE_URL": f"sqlite:///{work / 'ledger-before.db'}"}
    results: dict[str, Any] = {}
    for name, argv in COMMANDS.items():
        if args.only and name not in args.only:
            continue
        runs = args.heavy_runs if name in HEAVY else args.runs
        before = median_time(argv, before_tree, env_before, runs)
        after = median_time(argv, REPO, env, runs)
        results[name] = {
            "before": before,
            "after": after,
            "ratio_wall": round(after["wall_s"] / before["wall_s"], 3),
            "ratio_cpu": round(after["cpu_s"] / before["cpu_s"], 3),
        }
        print(f"{name}: {before} -> {after}", file=sys.stderr)

    server: dict[str, Any] = {} if args.no_server else via_server(env, args, results)

    local = {
        name: {
            "wall_s": results[name]["after"]["wall_s"],
            "cpu_s": results[name]["after"]["cpu_s"],
            "floor_help_wall_s": results.get("--help", {}).get("after", {}).get("wall_s"),
            "meets_target": results[name]["after"]["wall_s"] <= TARGET_S,
        }
        for name in HEAVY
        if name in results
    }
    doc = {
        "before_ref": args.before,
        "backend": args.backend,
        "target_s": TARGET_S,
        "local_without_server": local,
        "runs": {"light": args.runs, "heavy": args.heavy_runs},
        "commands": results,
        "server": server,
        "machine": {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)},
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
