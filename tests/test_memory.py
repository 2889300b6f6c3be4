"""Host memory at sizes where a wall would show: a sampled set is held as uint8 (never the whole set in float32), and
load_model reads only the weights sampling needs (not a large bank or optimiser states). Measured in subprocesses
(VmHWM), on Linux."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "tf_reference"
pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is read from /proc")


def peak_mb(code: str) -> float:
    hwm = "\nprint(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
    out = subprocess.run([sys.executable, "-c", code + hwm], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1]) / 1024


def test_load_model_leaves_a_large_bank_on_disk(tmp_path):
    """A checkpoint for 2 ranks, its 307 MB bank split over their rank files: load_model reads neither."""
    bank = np.lib.format.open_memmap(tmp_path / "bank.npy", "w+", np.float32, (25_000, 32, 32, 3))  # 307 MB
    bank[:] = 0.5
    bank.flush()
    np.save(tmp_path / "bank_z.npy", np.zeros((25_000, 16), np.float32))
    del bank
    from hatebm.tf_import import import_tf

    import_tf("cifar10_synth", tmp_path / "run", ebm=FIXTURES / "hat32.ckpt", gen=FIXTURES / "gen32.ckpt",
              bank=tmp_path / "bank.npy", bank_z=tmp_path / "bank_z.npy", ranks=2, load=False)
    base = peak_mb("import hatebm")
    loaded = peak_mb(f"import hatebm\nm = hatebm.load_model({str(tmp_path / 'run')!r}, 'cpu')\nassert m.step == 0")
    assert loaded - base < 100, (base, loaded)  # the weights are 0.1 MB; the bank would add 307 MB


def test_sampling_holds_the_set_as_uint8(tmp_path, tiny_npz):
    """G(Z) alone (steps 0) at 64 px RGB: 4,000 images are 49 MB in uint8 but 197 MB in float32. Drawing them costs
    the uint8 growth over drawing 250 plus what the allocator keeps (20 to 70 MB here), less than the float32 set alone
    (holding it, then concatenating it, grew the process by about 440 MB)."""
    run = tmp_path / "run"
    from hatebm.cli import main

    assert main(["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "model.resolution=64", "model.channels=3",
                 "model.hat_width=16", "model.gen_width=16", "iters=1", "eval_samples=0", "--quiet", "--out",
                 str(run)]) == 0
    code = ("import numpy as np\nfrom hatebm.model import load_model\nm = load_model({run!r}, 'cpu')\n"
            "x = m.draw({n}, steps=0, batch_size=250, progress=False, seed=0)\nassert x.dtype == np.uint8")
    small = peak_mb(code.format(run=str(run), n=250))
    large = peak_mb(code.format(run=str(run), n=4000))
    float32_growth = 3750 * 64 * 64 * 3 * 4 / 2**20
    assert large - small < float32_growth, (small, large, float32_growth)


def test_sample_command_writes_the_set_without_holding_it(tmp_path):
    """`hatebm sample` streams the set into its .npz: 24,000 more G(Z) images at 64 px RGB (281 MB in uint8) grow the
    process by less than half of that (holding the set would grow it by all of it; measured: no growth beyond what
    the allocator keeps, 0 to 70 MB)."""
    run, data = tmp_path / "run", tmp_path / "rgb64.npz"
    from hatebm.cli import main

    np.savez(data, images=np.random.default_rng(0).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8))
    assert main(["train", "tiny", "data.name=npz", f"data.root={data}", "model.resolution=64", "model.channels=3",
                 "model.hat_width=16", "model.gen_width=16", "iters=1", "eval_samples=0", "--quiet", "--out",
                 str(run)]) == 0
    code = ("from hatebm.cli import main\nassert main(['sample', {run!r}, '-n', '{n}', '--steps', '0', '--device', "
            "'cpu', '--quiet', '--out', {out!r}]) == 0")
    small = peak_mb(code.format(run=str(run), n=2000, out=str(tmp_path / "s.npz")))
    large = peak_mb(code.format(run=str(run), n=26000, out=str(tmp_path / "l.npz")))
    set_mb = 24000 * 64 * 64 * 3 / 2**20
    assert large - small < set_mb / 2, (small, large, set_mb)
    with np.load(tmp_path / "l.npz") as npz, np.load(tmp_path / "s.npz") as first:
        assert npz["images"].shape == (26000, 64, 64, 3)
        np.testing.assert_array_equal(npz["images"][:2000], first["images"])  # the same seeded set, streamed
