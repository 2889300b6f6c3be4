"""Out-of-distribution detection by the hat energy (paper §4.4, Table 3).

Each image x is scored by H(x), the hat network's energy without temperature (`HatEBM.hat_energy`): higher means
more out-of-distribution. Label convention everywhere: OOD images are the POSITIVE class, in-distribution images
the negative class, and a threshold t flags x as OOD when H(x) ≥ t. Then

- AUROC is the area under the ROC curve (TPR over FPR, linear between thresholds), i.e. the probability that a
  random OOD image scores above a random in-distribution one, ties counting one half (Mann–Whitney);
- AUPR is the average precision with OOD positive, Σ_k (R_k − R_{k−1}) P_k over the distinct scores taken as
  thresholds from the highest down (scikit-learn's `average_precision_score`, no interpolation);
- FPR95 is the fraction of in-distribution images flagged as OOD at the highest threshold that flags at least
  95% of the OOD images.

Images are compared with the model's training data at the data's own shape: a set of another size or channel count
is adapted only when asked (`fit`, `convert_channels`) and refused with a clear message otherwise; then every image
goes through the training transform (`hatebm.data.to_model` with the run's resize mode, resolution and channels).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hatebm import checkpoint as ckpt
from hatebm.data import to_model
from hatebm.data.registry import parse_spec
from hatebm.distributed import gather, rank_and_world, shard
from hatebm.eval.common import adapt, key_part, load_set, read_npz, save_npz, write_metrics
from hatebm.model import Model, load_model

POSITIVE = "OOD"
TPR_LEVEL = 0.95
IN_NAME = "in"
SCORE = "H(x): hat energy without temperature; higher = more out-of-distribution"
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")


# ---- metrics (OOD = positive) ---------------------------------------------------------------------------------

def _scores(scores: Any, what: str) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array of scores, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"{what} hold {int((~np.isfinite(s)).sum())} non-finite values: the energies overflowed "
                         "(a diverged model?); evaluate an earlier checkpoint")
    return s


def _counts(scores_in: Any, scores_out: Any) -> tuple[np.ndarray, np.ndarray, int, int]:
    """For each distinct score t, highest first: OOD (tp) and in-distribution (fp) images with score ≥ t;
    then the numbers of OOD and of in-distribution images."""
    s_in, s_out = _scores(scores_in, "in-distribution scores"), _scores(scores_out, "OOD scores")
    scores = np.concatenate([s_out, s_in])
    is_out = np.arange(len(scores)) < len(s_out)
    order = np.argsort(-scores, kind="stable")
    scores, is_out = scores[order], is_out[order]
    last = np.append(scores[1:] != scores[:-1], True)  # the last of each run of tied scores
    return np.cumsum(is_out)[last], np.cumsum(~is_out)[last], len(s_out), len(s_in)


def auroc(scores_in: Any, scores_out: Any) -> float:
    """Area under the ROC curve with OOD positive: P(H(x_out) > H(x_in)) + ½ P(H(x_out) = H(x_in))."""
    tp, fp, n_out, n_in = _counts(scores_in, scores_out)
    tpr, fpr = np.append(0, tp / n_out), np.append(0, fp / n_in)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def aupr(scores_in: Any, scores_out: Any) -> float:
    """Average precision with OOD positive: Σ_k (R_k − R_{k−1}) P_k over distinct thresholds, highest first."""
    tp, fp, n_out, _ = _counts(scores_in, scores_out)
    return float(np.sum(np.diff(np.append(0, tp / n_out)) * tp / (tp + fp)))


def fpr_at_tpr(scores_in: Any, scores_out: Any, tpr: float = TPR_LEVEL) -> float:
    """Fraction of in-distribution images flagged as OOD at the highest threshold flagging ≥ `tpr` of the OOD ones."""
    if not 0 < tpr <= 1:
        raise ValueError(f"tpr must be in (0, 1], got {tpr}")
    tp, fp, n_out, n_in = _counts(scores_in, scores_out)
    return float(fp[np.argmax(tp / n_out >= tpr)] / n_in)  # tp reaches n_out at the last threshold


def detection_metrics(scores_in: Any, scores_out: Any) -> dict[str, float]:
    """AUROC, AUPR and FPR at 95% TPR (OOD positive), with both sets' sizes and mean scores."""
    s_in, s_out = _scores(scores_in, "in-distribution scores"), _scores(scores_out, "OOD scores")
    return {"auroc": auroc(s_in, s_out), "aupr": aupr(s_in, s_out), "fpr95": fpr_at_tpr(s_in, s_out),
            "n_in": len(s_in), "n_out": len(s_out), "mean_score_in": float(s_in.mean()),
            "mean_score_out": float(s_out.mean())}


# ---- naming the sets ---------------------------------------------------------------------------------------

def parse_sets(items: list[str]) -> dict[str, str]:
    """{name: spec} from "NAME=SPEC" or "SPEC" items (name: the dataset name, a file's stem, or "noise")."""
    sets: dict[str, str] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep:
            spec = item
            kind, _, root = parse_spec(item)
            name = Path(root).stem if root else kind
        if not NAME_PATTERN.fullmatch(name) or name == IN_NAME:
            raise ValueError(f"bad OOD set name {name!r} in {item!r}: use letters, digits, _ . - (not {IN_NAME!r}), "
                             "as NAME=SPEC")
        if name in sets:
            raise ValueError(f"two OOD sets are named {name!r}: name them apart with NAME=SPEC")
        sets[name] = spec
    if not sets:
        raise ValueError("no OOD sets: pass at least one, e.g. mnist, digits, noise or NAME=FILE.npz")
    return sets


# ---- scoring --------------------------------------------------------------------------------------------------

def energy_scores(model: Model, images: np.ndarray, batch_size: int = 500, progress: bool = True,
                  what: str = "images") -> np.ndarray | None:
    """H(x) per image, float64 [N], for uint8 images of the training data's shape (see `common.adapt`), mapped to the
    model exactly as its training data (`to_model` with the run's resolution, resize mode and channels). Under
    torchrun each rank scores its share and rank 0 gets all the scores (the other ranks None)."""
    if model.ebm is None or model.config.model.arch == "mlp":
        raise ValueError("OOD scores need an image Hat EBM (a tandem or joint run), not a generator or a 2-D toy model")
    info, cfg = model.info, model.config
    shape = (info.height, info.width, info.channels)
    if images.shape[1:] != shape:
        raise ValueError(f"{what}: images of shape {images.shape[1:]}, the model's training data were {shape}: "
                         "adapt them first (hatebm.eval.common.adapt)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = next(model.ebm.parameters()).device
    part = shard(len(images))
    mine = images[part.start:part.stop]
    out = np.empty(len(mine), np.float64)
    with torch.inference_mode(), tqdm(total=len(mine), unit="img", desc=f"H(x) {what}", disable=not progress) as bar:
        for start in range(0, len(mine), batch_size):
            batch = mine[start : start + batch_size]
            x = to_model(batch, cfg.model.resolution, cfg.data.resize, cfg.model.channels).to(device)
            out[start : start + len(batch)] = model.ebm.hat_energy(x).double().cpu().numpy()
            bar.update(len(batch))
    parts = gather(out)
    return None if parts is None else np.concatenate(parts)


@dataclasses.dataclass
class OODResult:
    """Scores and positions (in their source set) per set, "in" first; metrics per OOD set, each with its protocol."""

    scores: dict[str, np.ndarray]
    index: dict[str, np.ndarray]
    metrics: dict[str, dict[str, Any]]
    protocol: dict[str, Any]

    def save_scores(self, path: str | os.PathLike) -> Path:
        """An .npz with `scores/<name>` and `index/<name>` per set ("in" and each OOD set) and `protocol` (JSON)."""
        arrays = {f"{kind}/{name}": a for kind, d in (("scores", self.scores), ("index", self.index))
                  for name, a in d.items()}
        return save_npz(path, arrays, self.protocol)

    def write_metrics(self, path: str | os.PathLike) -> Path:
        """Merge one entry per OOD set, `ood/<in set>/<name>`, into the JSON file `path` (see
        `hatebm.eval.common.write_metrics`)."""
        tag = key_part(self.protocol["in"]["spec"])
        for name, entry in self.metrics.items():
            write_metrics(path, entry, key=f"ood/{tag}/{name}")
        return Path(path)


def load_scores(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """({set name: scores}, protocol) from a file written by `OODResult.save_scores` (`hatebm ood --out`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no OOD score file {path}: write one with `hatebm ood CHECKPOINT --in ... --ood ...`")
    what, hint = "an OOD score file", "write one with `hatebm ood`"
    arrays = read_npz(path, what, hint)
    scores = {k.split("/", 1)[1]: a for k, a in arrays.items() if k.startswith("scores/")}
    if IN_NAME not in scores or "protocol" not in arrays:
        raise ValueError(f"{path} is not {what}: no in-distribution scores and protocol; {hint}")
    try:
        return scores, json.loads(str(arrays["protocol"]))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not {what}: its protocol is not JSON ({err}); {hint}") from err


def evaluate(
    model: str | os.PathLike | Model, in_spec: str, out_sets: dict[str, str], *, n: int | None = None,
    seed: int = 0, fit: str | None = None, convert_channels: bool = False, batch_size: int = 500,
    device: str | torch.device = "auto", progress: bool = True, hat: nn.Module | str | None = None,
    generator: nn.Module | str | None = None, trust_generator: bool = False,
) -> OODResult | None:
    """OOD detection of each set in `out_sets` ({name: spec}, see `hatebm.eval.common.load_set`) against the
    in-distribution set `in_spec`, by H(x) of a loaded `Model` or of the checkpoint or run folder `model` (its newest
    checkpoint, loaded on `device` with `hat` / `generator` for runs trained with their own networks, and
    `trust_generator` as `hatebm.model.load_model` takes it). Every set is cut to at most `n` images (a random
    subset with `seed`; "noise" gets `n`, or as many images as the in-distribution set) and adapted to the training
    data's shape as `hatebm.eval.common.adapt` allows."""
    source = str(ckpt.resolve(model)) if not isinstance(model, Model) else None
    loaded = model if isinstance(model, Model) else load_model(source, device, hat=hat, generator=generator,
                                                                     trust_generator=trust_generator)
    info, cfg = loaded.info, loaded.config
    shape = (info.height, info.width, info.channels)
    if IN_NAME in out_sets:
        raise ValueError(f"an OOD set may not be named {IN_NAME!r}")
    in_images, in_index, in_protocol = load_set(in_spec, n, seed)
    in_images = adapt(in_images, shape, fit, convert_channels, f"in-distribution set {in_spec!r}")
    progress = progress and rank_and_world()[0] == 0
    scores = {IN_NAME: energy_scores(loaded, in_images, batch_size, progress, IN_NAME)}
    index = {IN_NAME: in_index}
    sets = {}
    for name, spec in out_sets.items():
        images, index[name], sets[name] = load_set(spec, n, seed, shape, noise_n=len(in_images))
        scores[name] = energy_scores(loaded, adapt(images, shape, fit, convert_channels, f"OOD set {name!r}"),
                                     batch_size, progress, name)
    if scores[IN_NAME] is None:  # another rank of a torchrun job: rank 0 has the scores
        return None
    adaptation = {"fit": fit, "convert_channels": convert_channels, "data_shape": list(shape)}
    protocol = {
        "task": "OOD detection by the hat energy (paper §4.4)", "score": SCORE, "positive": POSITIVE,
        "fpr_at_tpr": TPR_LEVEL, "aupr": "average precision, OOD positive (scikit-learn's definition)",
        "model": {"checkpoint": source, "step": loaded.step, "resolution": cfg.model.resolution,
                  "channels": cfg.model.channels, "data_resize": cfg.data.resize},
        "adaptation": adaptation, "seed": seed, "in": in_protocol, "out": sets,
    }
    metrics = {name: {**detection_metrics(scores[IN_NAME], scores[name]),
                      "protocol": {**{k: v for k, v in protocol.items() if k != "out"}, "out": sets[name]}}
               for name in out_sets}
    return OODResult(scores, index, metrics, protocol)
