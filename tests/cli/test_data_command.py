"""`hatebm data prep` and `hatebm data info`."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from hatebm.cli import main


def image_folder(path):
    rng = np.random.default_rng(0)
    path.mkdir()
    for i, (h, w) in enumerate([(12, 20), (10, 10), (30, 14)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path / f"{i}.png")
    return path


def test_prep_then_info(tmp_path, capsys):
    src, out = image_folder(tmp_path / "images"), tmp_path / "prepared"
    assert main(["data", "prep", str(src), "--out", str(out), "--size", "8", "--layout", "short_side",
                 "--channels", "1", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    (line,) = captured.out.splitlines()
    assert line.startswith(f"prepared 3 images in {out}: short_side size 8, 1 channel(s), ")
    assert line.endswith(f"{(out / 'images.u8').stat().st_size} bytes")
    assert main(["data", "info", str(out), "--verify"]) == 0
    captured = capsys.readouterr()
    manifest = json.loads(captured.out)
    assert (manifest["count"], manifest["size"], manifest["channels"]) == (3, 8, 1) and "matches" in captured.err
    assert main(["data", "prep", str(src), "--out", str(out), "--size", "4", "--quiet", "--overwrite"]) == 0
    assert "square size 4, 3 channel(s), 144 bytes" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys):
    src, out = image_folder(tmp_path / "images"), tmp_path / "prepared"
    assert main(["data", "prep", str(src), "--out", str(out), "--size", "0", "--quiet"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "hatebm data: error: prep: size must be a positive int, got 0"
    assert main(["data", "prep", str(src), "--out", str(out), "--size", "8", "--quiet"]) == 0
    assert main(["data", "prep", str(src), "--out", str(out), "--size", "8", "--quiet"]) == 2
    assert "already exists; pass overwrite=True (--overwrite)" in capsys.readouterr().err
    (out / "images.u8").write_bytes(b"\0" * (out / "images.u8").stat().st_size)
    assert main(["data", "info", str(out)]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(out), "--verify"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "images.u8 has SHA-256" in line and "run `hatebm data prep SRC --out" in line
