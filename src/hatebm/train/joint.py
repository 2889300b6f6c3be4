"""Joint Hat EBM training on a frozen generator (paper §3.2, eqs 4-8): refinement of a pretrained GAN (§4.1) and
retrofit of a deterministic autoencoder (§4.2).

Each iteration:
1. Z0 ~ N(0, I), Y0 = 0; K alternating Langevin steps on Y (eq 6) and Z (eq 7) of
   U(Y, Z) = H(G(Z) + Y) / T [+ ||Y||^2 / (2 sigma_y^2)] [+ ||Z||^2 / 2]; X- = G(Z_K) + Y_K.
2. Hat update (eq 8): minimise mean H(X+) - mean H(X-), X+ = data + sigma_data * N(0, I).

The generator comes from any source of :func:`hatebm.generators.load_generator` (or is a module passed to
:func:`hatebm.train`), is checked against the data at start-up, and stays frozen: eval mode, no parameter requires a
gradient, its weights are saved unchanged with every checkpoint (with the spec that rebuilds it) so that
``hatebm sample`` can rebuild the model.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from hatebm import checkpoint as ckpt
from hatebm.checkpoint import GeneratorSpec
from hatebm.config import GanConfig, JointConfig
from hatebm.distributed import Dist
from hatebm.generators import check_generator, custom_generator, load_generator, load_weights
from hatebm.nets import build_discriminator, load_negated_mlp
from hatebm.nets.discriminator import load_negated
from hatebm.sampling import mean_norm
from hatebm.train.hatrun import HatRun
from hatebm.train.runtime import wrap_ddp
from hatebm.train.stream import UserData


def negated_discriminator(hat: nn.Module, cfg: JointConfig) -> None:
    """Start ``hat`` at -D, D the discriminator of the `hatebm pretrain gan` run ``cfg.hat_init`` (beyond the paper:
    the untrained joint model with Y held at 0, T = 1 and the Z prior is then DDLS on that GAN)."""
    try:
        saved = ckpt.load(cfg.hat_init, nets=("discriminator",))
    except FileNotFoundError as err:
        raise FileNotFoundError(f"hat_init={cfg.hat_init}: {err}") from None
    if not isinstance(saved.config, GanConfig):
        raise ValueError(f"hat_init={cfg.hat_init} is a {saved.config.KIND} run; pass a run of `hatebm pretrain gan`")
    gan, ours = saved.config.model, cfg.model
    disc = build_discriminator(gan).to(next(hat.parameters()).device)
    load_weights(disc, saved.nets.get("discriminator", {}), f"hat_init={cfg.hat_init}", "discriminator")
    if gan.arch == "mlp" or ours.arch == "mlp":
        layout = lambda m: (m.arch, m.channels, m.mlp_hidden, m.mlp_depth, m.mlp_act)  # noqa: E731
        if layout(gan) != layout(ours):
            raise ValueError(f"hat_init={cfg.hat_init}: its critic is a {gan.arch} network on {gan.channels} "
                             f"dimension(s) (mlp_hidden {gan.mlp_hidden}, mlp_depth {gan.mlp_depth}, mlp_act "
                             f"{gan.mlp_act}); set model.arch, model.channels, model.mlp_hidden, model.mlp_depth and "
                             "model.mlp_act to match")
        load_negated_mlp(hat, disc)
        return
    if (gan.resolution, gan.channels, gan.hat_width) != (ours.resolution, ours.channels, ours.hat_width) or \
            ours.hat_act != "relu":
        raise ValueError(f"hat_init={cfg.hat_init}: its discriminator is {gan.resolution} px, {gan.channels} channel(s), "
                         f"width {gan.hat_width} with ReLU; set model.resolution, model.channels, model.hat_width and "
                         "model.hat_act=relu to match")
    load_negated(hat, disc, ours.resolution)


class Joint(HatRun):
    """State of a joint run: hat network and its optimiser, the frozen generator, data stream and step."""

    show = ("energy_diff", "z_norm")

    def __init__(self, cfg: JointConfig, env: Dist, data: UserData | None = None, hat: nn.Module | None = None,
                 generator: nn.Module | None = None) -> None:
        source = cfg.generator.source
        if source is None and generator is None:
            raise ValueError("a joint run needs a frozen generator: set generator.source to a run of `hatebm pretrain "
                             "gan|ae`, a TorchScript file, or package.module:function with generator.weights=FILE "
                             "(or pass generator=MODULE to hatebm.train)")
        if source is not None and generator is not None:
            raise ValueError(f"two generators: generator.source={source} and a generator module; drop one")
        self.start(cfg, env, data)
        self.source = (custom_generator(generator, cfg.generator.latent_shape) if generator is not None
                       else load_generator(source, cfg.generator.weights, cfg.generator.latent_shape,
                                           trust=cfg.generator.trust, trust_hint="set generator.trust=true"))
        self.gen = self.source.module.to(env.device)
        check_generator(self.source, self.stream.shape, f"generator {source or type(generator).__name__}")
        self.hat = self.build_hat(hat)
        if cfg.hat_init is not None:
            if hat is not None:
                raise ValueError("hat_init starts hatebm's hat network from a discriminator; drop it or the hat module")
            negated_discriminator(self.hat, cfg)
        self.hat, self.gen = self.channels_last(self.hat, self.gen)
        self.ebm = cfg.energy(self.hat, self.gen, self.source.latent_shape)
        self.hat_train = wrap_ddp(self.hat, env)
        self.opt_hat = torch.optim.Adam(self.hat.parameters(), lr=cfg.lr_hat, betas=tuple(cfg.betas))
        self.nets, self.opts, self.lrs = {"hat": self.hat, "generator": self.gen}, {"hat": self.opt_hat}, {"hat": cfg.lr_hat}
        self.ready()

    def train_step(self) -> dict[str, float | Tensor]:
        """One iteration: joint sampling (eqs 6-7), then one hat update (eq 8); returns the values to log."""
        neg = self.negatives()
        values = self.update_hat(neg)
        self.step += 1
        return {**values, "z_norm": mean_norm(neg.z), "drift_z": neg.drift_z}

    def generator_record(self) -> GeneratorSpec:
        return self.source.record()
