"""``hatebm`` (run under torchrun) with every torch.distributed collective it calls recorded, as [name, payload
bytes] pairs, into the JSON file ``$HATEBM_COLLECTIVES.<rank>`` (tests/train/test_distributed.py). A payload is the
bytes of the tensors passed, or the pickled size of the objects; DDP's gradient reduction runs in C++, unseen."""
import json
import os
import pickle
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from hatebm.cli import main

COLLECTIVES = ("gather_object", "all_gather_object", "broadcast_object_list", "scatter_object_list", "all_reduce",
               "broadcast", "all_gather", "all_gather_into_tensor", "gather", "scatter", "reduce", "reduce_scatter",
               "reduce_scatter_tensor", "all_to_all", "all_to_all_single", "send", "recv", "isend", "irecv")
calls: list[tuple[str, int]] = []


def nbytes(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    try:
        return len(pickle.dumps(value))
    except Exception:  # a process group, a reduce op
        return 0


def watched(name, collective):
    def call(*args, **kwargs):
        calls.append((name, nbytes(list(args) + list(kwargs.values()))))
        return collective(*args, **kwargs)
    return call


for name in COLLECTIVES:
    setattr(dist, name, watched(name, getattr(dist, name)))
code = main(sys.argv[1:])
Path(f"{os.environ['HATEBM_COLLECTIVES']}.{os.environ['RANK']}").write_text(json.dumps(calls))
sys.exit(code)
