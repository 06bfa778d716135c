"""What a training run reports: ``report.json`` and the loss-curve PNG."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainReport:
    """Numbers of one LoRA run; written to ``<out>/report.json``."""

    base: str
    data: str
    out_dir: str
    device: str
    dtype: str
    n_train: int
    n_eval: int
    duplicates_dropped: int
    trainable_params: int
    total_params: int
    trainable_fraction: float
    eval_loss_before: float  # mean cross-entropy per answer token on the eval pairs (nats)
    eval_loss_after: float = float("nan")
    steps: int = 0  # optimizer steps completed in total
    resumed_from_step: int | None = None
    train_tokens: int = 0  # non-padding tokens through forward+backward in this process
    train_seconds: float = 0.0  # wall time of those steps, evals and checkpoints excluded
    tokens_per_s: float = 0.0
    total_seconds: float = 0.0
    merged_dir: str | None = None
    train_loss: list[tuple[int, float]] = field(default_factory=list)  # (step, loss)
    eval_loss: list[tuple[int, float]] = field(default_factory=list)  # (step, loss)
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, out_dir: Path) -> Path:
        path = out_dir / "report.json"
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path


def plot_loss_curve(report: TrainReport, path: Path) -> Path:
    """Train loss per step and eval loss points, as a PNG (Agg canvas, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if report.train_loss:
        steps, losses = zip(*report.train_loss, strict=True)
        ax.plot(steps, losses, label="train loss", linewidth=1)
    if report.eval_loss:
        steps, losses = zip(*report.eval_loss, strict=True)
        ax.plot(steps, losses, "o-", label="eval loss (answer tokens)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(f"LoRA on {Path(report.base).name}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path
