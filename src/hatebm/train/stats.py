"""What a run reports while it trains: `stats.jsonl` records and the divergence checks that stop a failed run."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any


REMEDY = ("continue from the last checkpoint with lower learning rates (the same command with --resume and, e.g., "
          "lr_hat=<half of it>), or set on_divergence=rollback to have the run do that itself")


class DivergenceError(RuntimeError):
    """Raised when training produces non-finite values or an exploding energy gap: ``reason`` says what happened,
    the message adds what to do."""

    def __init__(self, reason: str, advice: str = REMEDY) -> None:
        self.reason = reason
        super().__init__(f"{reason}; {advice}" if advice else reason)


def check_finite(step: int, values: dict[str, float]) -> None:
    """Stop a run whose logged values turned non-finite (DivergenceError)."""
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        raise DivergenceError(f"training diverged at step {step}: non-finite {bad}")


def check_finite_gap(step: int, gap: float, limit: float, values: dict[str, float]) -> None:
    """Stop a run whose energy gap or losses are non-finite or beyond ``limit`` (DivergenceError)."""
    check_finite(step, values)
    if abs(gap) > limit:
        raise DivergenceError(
            f"training diverged at step {step}: |mean H(X+) - mean H(X-)| = {abs(gap):.3g} exceeds diverge_gap={limit:g}"
            " (samples no longer keep up with the hat network)",
            f"{REMEDY} (or start again with more sampler.steps or energy_reg > 0)")


class StatsLog:
    """Appends one JSON object per logged step to ``stats.jsonl``, with iterations per second."""

    def __init__(self, path: Path | None) -> None:
        self.path, self._t, self._step = path, time.perf_counter(), None

    def write(self, step: int, values: dict[str, Any]) -> dict[str, Any]:
        now = time.perf_counter()
        if self._step is not None and step > self._step:
            values = {**values, "it_per_s": (step - self._step) / (now - self._t)}
        self._t, self._step = now, step
        record = {"step": step, **values}
        if self.path is not None:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
        return record

    def truncate_after(self, step: int) -> None:
        """On resume, drop records logged after the checkpoint so the file reads as one uninterrupted run."""
        if self.path is None or not self.path.exists():
            return
        keep = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        self.path.write_text("".join(line + "\n" for line in keep))
