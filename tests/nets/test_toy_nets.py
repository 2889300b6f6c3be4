"""The 2-D networks: the MLP critic is spectrally normalised, and a hat loaded from it computes exactly -D."""
import torch
import pytest

from hatebm.nets import MLPCritic, MLPHat, load_negated_mlp


def test_critic_layers_have_unit_spectral_norm():
    critic = MLPCritic(2, 32, 2)
    for _ in range(30):  # power iterations converge while training
        critic(torch.randn(8, 2))
    critic.eval()
    for m in critic.net:
        if isinstance(m, torch.nn.Linear):
            assert torch.linalg.matrix_norm(m.weight, ord=2).item() == pytest.approx(1.0, abs=1e-3)


def test_negated_critic_hat_is_minus_d_exactly():
    torch.manual_seed(0)
    critic, hat = MLPCritic(2, 16, 2), MLPHat(2, 16, 2, "relu")
    critic(torch.randn(8, 2))
    load_negated_mlp(hat, critic)
    x = torch.randn(50, 2)
    with torch.no_grad():
        torch.testing.assert_close(hat(x), -critic(x), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="differ in layout: use the GAN's model.channels"):
        load_negated_mlp(MLPHat(2, 8, 2, "relu"), critic)
    with pytest.raises(ValueError, match="model.mlp_act"):
        load_negated_mlp(MLPHat(2, 16, 2, "silu"), critic)
