"""Helpers of the tests that compare hatebm with the authors' TensorFlow code (tests/fixtures/tf_reference)."""
import json
from pathlib import Path

import numpy as np
import torch

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tf_reference"


def outputs() -> dict[str, np.ndarray]:
    """What the authors' TensorFlow code computed on the fixture networks (make_fixtures.py)."""
    with np.load(FIXTURES / "outputs.npz") as npz:
        return {k: npz[k] for k in npz.files}


def manifest() -> dict:
    return json.loads((FIXTURES / "manifest.json").read_text())


def nchw(a: np.ndarray) -> torch.Tensor:
    """An NHWC array as an NCHW float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2))).float()


def rel_err(ours: torch.Tensor, theirs: np.ndarray | torch.Tensor) -> float:
    """max |ours - theirs| / max |theirs|."""
    theirs = torch.as_tensor(theirs).to(ours.dtype)
    return ((ours.detach() - theirs).abs().max() / theirs.abs().max()).item()
