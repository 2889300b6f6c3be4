"""Each of the authors' experiments imports with their settings: training ones from configs_synth / configs_joint,
sampling ones from fid/fid_config_*.py with protocol="fid" (numbers copied from their files at a6d524c)."""
import math

import pytest
from tfref import FIXTURES

from hatebm.tf_import import import_tf
from hatebm.tf_import.experiments import ema_halflife

NETS = {32: ("hat32", "gen32"), 64: ("hat64", "gen64"), 128: ("hat128", "gen128")}
# experiment: resolution, (T, eps_Y, eps_Z, K, clip) at training, (T, Y prior std, Y0 scale, K) at their FID
THEIRS = {
    "cifar10_synth": (32, (1e-8, 5e-4, None, 50, 2.5), (1e-3, None, 0.01, 125)),
    "celeb_a_synth": (64, (1e-8, 5e-4, None, 50, 2.5), (1e-8, None, 0.01, 100)),
    "imagenet_synth": (128, (1e-8, 5e-4, None, 50, 2.5), (1e-8, None, 0.01, 150)),
    "imagenet_synth_large_net": (128, (1e-8, 5e-4, None, 50, 2.5), (1e-8, None, 0.01, 125)),
    "cifar10_refine": (32, (1e-3, 1e-4, 5e-3, 250, 2.5), (1e-3, 0.25, 0.0, 350)),
    "celeb_a_refine": (64, (1e-6, 1e-4, 5e-3, 100, 2.5), (1e-6, None, 0.0, 125)),
}


@pytest.mark.parametrize("name", THEIRS)
def test_training_and_fid_settings(tmp_path, name):
    res, (t, eps_y, eps_z, k, clip), (t_fid, prior, y0, k_fid) = THEIRS[name]
    hat, gen = NETS[res]
    train = import_tf(name, tmp_path / "t", ebm=FIXTURES / f"{hat}.ckpt", gen=FIXTURES / f"{gen}.ckpt")
    fid = import_tf(name, tmp_path / "f", ebm=FIXTURES / f"{hat}.ckpt", gen=FIXTURES / f"{gen}.ckpt",
                    protocol="fid")
    cfg, s = train.config, train.config.sampler
    assert (cfg.temperature, s.eps_y, s.steps, s.max_drift_y, s.y0_scale) == (t, eps_y, k, clip, 0.0)
    if eps_z is not None:
        assert (s.eps_z, s.order, cfg.y_prior_std) == (eps_z, "zy", None)
    assert train.sampler.steps == fid.sampler.steps == k_fid
    assert (fid.config.temperature, fid.sampler.y0_scale, fid.sampler.max_drift_y) == (t_fid, y0, None)
    assert getattr(fid.config, "y_prior_std", None) == prior
    imagenet = name.startswith("imagenet")
    assert (cfg.hat_grad_clip, cfg.hat_grad_clip_scope) == ((50.0, "tensor") if imagenet else (None, "global"))
    assert cfg.model.out_scale == (1.0 if "refine" in name else 2.0) and cfg.model.resolution == res


def test_retrofit(tmp_path):
    m = import_tf("cifar10_retrofit", tmp_path / "r", ebm=FIXTURES / "hat32.ckpt", gen=FIXTURES / "dec32.ckpt")
    cfg = m.config
    assert (cfg.temperature, cfg.sampler.eps_y, cfg.sampler.eps_z, cfg.sampler.steps, cfg.y_prior_std) == (
        1e-3, 5e-4, 1e-3, 100, 0.1)  # tau_res = 1 / (2 * 0.1^2)
    assert cfg.data.noise == 1e-2 and m.sampler.steps == 125 and m.latent_shape == (1, 16, 16)
    assert math.isclose(0.5 ** (1 / ema_halflife()), 0.9999, rel_tol=1e-12)  # their decay as hatebm's half-life


def test_retrofit_fid_protocol(tmp_path):
    m = import_tf("cifar10_retrofit", tmp_path / "r", ebm=FIXTURES / "hat32.ckpt", gen=FIXTURES / "dec32.ckpt",
                  protocol="fid")
    assert (m.config.temperature, m.config.y_prior_std, m.sampler.y0_scale, m.sampler.max_drift_y, m.sampler.steps,
            m.sampler.eps_z) == (1e-3, 0.1, 0.01, None, 125, 1e-3)


@pytest.mark.parametrize("name,lrs,milestones,iters", [
    ("cifar10_synth", (1e-4, 1e-4), [], 50_000),
    ("imagenet_synth_large_net", (1e-4, 5e-5), [230_000, 260_000], 300_000),  # their lr_info: [[1e-4, 0], [1e-5, ...
])
def test_synthesis_training_schedule_bank_and_data(tmp_path, name, lrs, milestones, iters):
    res = THEIRS[name][0]
    hat, gen = NETS[res]
    cfg = import_tf(name, tmp_path / "r", ebm=FIXTURES / f"{hat}.ckpt", gen=FIXTURES / f"{gen}.ckpt").config
    assert (cfg.lr_hat, cfg.lr_gen, cfg.lr_milestones, cfg.lr_gamma, cfg.iters) == (*lrs, milestones, 0.1, iters)
    assert (cfg.bank_size, cfg.gen_loss_weight, cfg.gen_steps, cfg.batch_size, cfg.betas) == (
        10_000, 1000.0, 1, 128, [0.9, 0.999])  # persistent_size, gen_loss_factor_coop, batch, Adam
    assert cfg.data.noise == 1e-3 and cfg.energy_reg == 0 and cfg.grad_penalty == 0  # data_epsilon; their loss
