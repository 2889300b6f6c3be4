from __future__ import annotations

import pytest
import torch

from hatebm.data import fashion_mnist


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are small: extra threads only cost time on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No dataset reachable by default: empty cache, no $HATEBM_DATA, no Debian folder."""
    monkeypatch.setenv("HATEBM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HATEBM_DATA", raising=False)
    monkeypatch.delenv(fashion_mnist.URL_ENV, raising=False)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "system" / "fashion-mnist")
    return tmp_path
