"""Two-rank DDP on CPU (gloo), as a multi-GPU job runs: through torchrun for training and sampling, through
torch.multiprocessing for the gradient."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hatebm import cli
from hatebm.data import prepare

TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")
needs_torchrun = pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                                    reason="torchrun missing")


WATCH = Path(__file__).parent / "watch_collectives.py"


def torchrun(*args: str, ranks: int = 2, watch: Path | None = None) -> subprocess.CompletedProcess:
    """``hatebm ARGS`` under torchrun; with ``watch``, every collective recorded in ``watch.<rank>``
    (watch_collectives.py)."""
    program = ["-m", "hatebm.cli"] if watch is None else [str(WATCH)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HATEBM_COLLECTIVES": str(watch)}
    proc = subprocess.run([TORCHRUN, "--standalone", f"--nproc_per_node={ranks}", *program, *args],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def checkpoint_files(run):
    """The step-10 checkpoint's tensors, as ``<file stem>/<key>``, and its state.json."""
    folder = run / "checkpoints" / "step_00000010"
    tensors = {f"{p.stem}/{k}": v for p in folder.glob("*.safetensors") for k, v in load_file(str(p)).items()}
    return tensors, json.loads((folder / "state.json").read_text())


@needs_torchrun
def test_two_rank_run_resumes_bit_for_bit(tiny_npz, tmp_path):
    """A 2-rank run from prepared data (one loader worker per rank), stopped at its step-5 checkpoint and resumed,
    equals the uninterrupted run: every rank's RNG, bank shard and data position are restored from its own file, not
    rank 0's. No collective carries a bank tensor (or anything as large as one bank image): each rank writes its
    file itself."""
    prepared = prepare(str(tiny_npz), tmp_path / "prepared", 28, progress=False)
    common = ["tiny", "data.name=prepared", f"data.root={prepared}", "data.size=28", "data.workers=1", "ckpt_every=5",
              "keep_ckpts=0", "eval_samples=8", "--quiet"]  # 64 images, 4 per rank and step: step 9 starts epoch 2
    torchrun("train", *common, "iters=10", "--out", str(tmp_path / "full"), watch=tmp_path / "calls")
    torchrun("train", *common, "iters=5", "--out", str(tmp_path / "part"))
    torchrun("train", *common, "iters=10", "--out", str(tmp_path / "part"), "--resume")
    full, resumed = checkpoint_files(tmp_path / "full"), checkpoint_files(tmp_path / "part")
    assert full[1] == resumed[1] and full[1]["world"] == 2
    assert full[0].keys() == resumed[0].keys()
    assert {"rank1/bank.x", "rank1/rng.torch", "rank1/stream.pos"} <= full[0].keys()
    assert not [k for k in full[0] if k.startswith("tensors/rank")]  # the shared file holds no rank's state
    assert all(torch.equal(full[0][k], resumed[0][k]) for k in full[0])
    assert not torch.equal(full[0]["rank0/bank.x"], full[0]["rank1/bank.x"])  # each rank its own shard
    calls = [c for r in (0, 1) for c in json.loads((tmp_path / f"calls.{r}").read_text())]
    assert sum(name == "broadcast_object_list" for name, _ in calls) == 2 * 2  # the folder's name, per checkpoint
    bank_image = full[0]["rank0/bank.x"][0].nbytes
    assert max(size for _, size in calls) < bank_image, sorted(calls, key=lambda c: -c[1])[:3]
    np.testing.assert_array_equal(np.load(tmp_path / "full" / "samples.npz")["images"],
                                  np.load(tmp_path / "part" / "samples.npz")["images"])
    stats = [json.loads(line) for line in (tmp_path / "full" / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == list(range(1, 11))  # written once, by rank 0
    # One process cannot continue a 2-rank run: its shards would be lost.
    code = cli.main(["train", *common, "iters=12", "--out", str(tmp_path / "part"), "--resume"])
    assert code == 2


@needs_torchrun
def test_sample_and_ood_under_torchrun_match_one_process(tiny_npz, tmp_path):
    """Each rank draws (scores) its share and rank 0 writes (samples assembled from the ranks' files, not sent through a
    collective): the sample set does not depend on the number of ranks or the batch size, and the OOD scores are those
    of one process. (-n, not --n: torchrun's parser takes --n for
    an abbreviation of its own options.)"""
    run = tmp_path / "run"
    # fp32 chains: bf16 kernels may round by batch size
    assert cli.main(["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "iters=2", "eval_samples=0",
                     "amp=false", "--quiet", "--out", str(run)]) == 0
    sample = ["sample", str(run), "-n", "7", "--steps", "2", "--seed", "3", "--device", "cpu", "--quiet"]
    torchrun(*sample, "--batch-size", "2", "--out", str(tmp_path / "two.npz"))
    assert cli.main([*sample, "--batch-size", "5", "--out", str(tmp_path / "one.npz")]) == 0
    two, one = np.load(tmp_path / "two.npz")["images"], np.load(tmp_path / "one.npz")["images"]
    assert two.shape == (7, 28, 28, 1)
    np.testing.assert_array_equal(two, one)
    assert not list(tmp_path.glob(".hatebm_samples_*"))  # the ranks' shares went through files, removed after
    ood = ["ood", str(run), "--in", str(tiny_npz), "--ood", "noise", "-n", "9", "--device", "cpu", "--quiet"]
    torchrun(*ood, "--out", str(tmp_path / "two_scores.npz"), "--metrics", str(tmp_path / "two.json"))
    assert cli.main([*ood, "--out", str(tmp_path / "one_scores.npz"), "--metrics", str(tmp_path / "one.json")]) == 0
    two, one = np.load(tmp_path / "two_scores.npz"), np.load(tmp_path / "one_scores.npz")
    assert len(two["scores/in"]) == 9
    for key in ("scores/in", "scores/noise"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-6)


def _rank_gradient(rank: int, world: int, store: str, out: str) -> None:
    """One hat update (eq 8) on this rank's half of a fixed batch; saves the hat's gradient."""
    from hatebm.config import preset
    from hatebm.distributed import Dist
    from hatebm.nets import build_hat
    from hatebm.train.loss import hat_update
    from hatebm.train.runtime import wrap_ddp

    torch.set_num_threads(1)
    if world > 1:
        torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    cfg = preset("tiny")
    cfg.energy_reg, cfg.grad_penalty, cfg.amp = 0.5, 0.1, False  # every term of the loss, in fp32
    torch.manual_seed(0)
    hat = build_hat(cfg.model)
    x = torch.randn(2, 8, 1, 32, 32)  # X+ and X-, 8 each
    share = slice(rank * 8 // world, (rank + 1) * 8 // world)
    net = wrap_ddp(hat, Dist(rank, world))
    hat_update(net, torch.optim.SGD(hat.parameters(), lr=0.0), x[0, share], x[1, share], cfg, Dist(rank, world))
    np.save(f"{out}_{rank}.npy", torch.cat([p.grad.flatten() for p in hat.parameters()]).numpy())
    if world > 1:
        torch.distributed.destroy_process_group()
        # the result is saved: leave without the interpreter's teardown, where a gloo thread still joinable now and
        # then makes the C++ runtime abort ("terminate called without an active exception") and mp.spawn report it
        os._exit(0)


def test_two_rank_hat_gradient_equals_one_process_on_the_union(tmp_path):
    import torch.multiprocessing as mp

    _rank_gradient(0, 1, "", str(tmp_path / "one"))
    mp.spawn(_rank_gradient, args=(2, str(tmp_path / "store"), str(tmp_path / "two")), nprocs=2)
    one, two = np.load(tmp_path / "one_0.npy"), np.load(tmp_path / "two_0.npy")
    np.testing.assert_array_equal(two, np.load(tmp_path / "two_1.npy"))  # DDP leaves every rank the same gradient
    np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-6 * np.abs(one).max())
