"""The peak resident memory of a piece of Python run in a fresh process: what the memory benchmarks measure."""
from __future__ import annotations

import os
import subprocess
import sys
import time

HWM = "\nprint('VmHWM', next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"


def peak_rss(code: str, pythonpath: str | None = None) -> tuple[float, float, str]:
    """(peak RSS in bytes, seconds, stdout) of ``python -c code`` in a fresh process (Linux), with ``pythonpath``
    put first on its path if given. VmHWM is the peak of the process image: ru_maxrss would also count the parent's
    pages at the fork."""
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code + HWM], check=True, capture_output=True, text=True, env=env)
    return int(out.stdout.split("VmHWM")[-1].split()[0]) * 1024.0, time.perf_counter() - start, out.stdout
