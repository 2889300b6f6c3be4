from __future__ import annotations

import pytest

from hatebm.data import fashion_mnist


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No dataset reachable by default: empty cache, no $HATEBM_DATA, no Debian folder."""
    monkeypatch.setenv("HATEBM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HATEBM_DATA", raising=False)
    monkeypatch.delenv(fashion_mnist.URL_ENV, raising=False)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "system" / "fashion-mnist")
    return tmp_path
