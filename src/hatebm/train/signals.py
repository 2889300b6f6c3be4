"""Graceful stops: SIGTERM (a cluster scheduler's pre-emption) and SIGINT (Ctrl-C) end training after the current
step, with a checkpoint, instead of losing up to ``ckpt_every`` steps.

While :class:`StopSignals` is active, the first SIGTERM or SIGINT is only recorded (``signum``); the loop checks it
after every step (every rank agrees, :func:`hatebm.distributed.any_rank`), writes a checkpoint and raises
:class:`Stopped`. The first signal restores the previous handlers, so a second one acts at once (Ctrl-C raises
KeyboardInterrupt, SIGTERM terminates); checkpoints are written atomically, so even that loses nothing already saved.
"""
from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopped(Exception):
    """Training stopped by a signal after writing a checkpoint; ``code`` is the shell's exit status for that signal
    (128 + signal number: 143 for SIGTERM, 130 for SIGINT)."""

    def __init__(self, signum: int, step: int, checkpoint: Path) -> None:
        self.signum, self.step, self.checkpoint, self.code = signum, step, checkpoint, 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name} after step {step}; checkpoint {checkpoint} holds "
                         "it: continue with the same command and --resume")


class StopSignals:
    """Records SIGTERM and SIGINT while active (in the main thread only: elsewhere signals cannot be handled)."""

    def __init__(self) -> None:
        self.signum = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._record) for s in SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self._restore()  # a second signal acts at once

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
