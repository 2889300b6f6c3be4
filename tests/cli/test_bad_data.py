"""Bad inputs met through the CLI (issue 28): an unreadable image in a streamed folder, prepared data of another size,
seeds outside [0, 2^32), errors that name the flag typed, foreign FID statistics."""
import json

import numpy as np
import pytest
from PIL import Image

from hatebm import checkpoint as ckpt
from hatebm.cli import main

TINY = ["iters=4", "batch_size=8", "sampler.steps=1", "eval_steps=1", "eval_samples=0", "log_every=1",
        "image_every=100", "ckpt_every=1"]


def one_line(capsys, code: int, expected: int = 2) -> str:
    err = [line for line in capsys.readouterr().err.strip().splitlines() if ": warning: " not in line]
    assert code == expected and len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture
def folder(tmp_path):
    """16 grey 32×32 PNGs, one of them (sorted last) not an image."""
    root = tmp_path / "images"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(15):
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(root / f"{i:02d}.png")
    (root / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    return root


@pytest.mark.parametrize("workers", [0, 1])
def test_unreadable_image_stops_with_one_line_then_resumes_skipping(folder, tmp_path, capsys, workers):
    out = tmp_path / "run"
    data = ["data.name=folder", f"data.root={folder}", f"data.workers={workers}"]
    code = main(["train", "tiny", *data, *TINY, "--out", str(out), "--quiet"])
    line = one_line(capsys, code)
    assert "zz_broken.png: not a readable image" in line and "data.bad_images=skip" in line and "--resume" in line
    assert "DataLoader worker" not in line
    for saved in ckpt.list_checkpoints(out):  # whatever was written before is intact
        ckpt.load(saved)
    with pytest.warns(UserWarning, match=r"skipped the unreadable image .*zz_broken\.png"):
        assert main(["train", str(out / "config.json"), "data.bad_images=skip", "--out", str(out), "--resume",
                     "--quiet"]) == 0
    records = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 4 and records[-1]["skipped_images"] >= 1


def test_skipping_from_the_start_counts_every_skip(folder, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="skipped the unreadable image"):
        assert main(["train", "tiny", "data.name=folder", f"data.root={folder}", "data.workers=0",
                     "data.bad_images=skip", *TINY, "--out", str(out), "--quiet"]) == 0
    records = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    # 16 files, batches of 8: every image is read once per epoch, two steps an epoch
    assert [r.get("skipped_images", 0) for r in records][1::2] == [1, 2]
    assert ckpt.load(out).ranks[0].stream["skipped"] == 2


def test_prepared_data_of_another_size_is_refused(tiny_npz, tmp_path, capsys):
    assert main(["data", "prep", str(tiny_npz), "--out", str(tmp_path / "p16"), "--size", "16", "--quiet"]) == 0
    capsys.readouterr()
    code = main(["train", "tiny", "data.name=prepared", f"data.root={tmp_path / 'p16'}", *TINY, "--out",
                 str(tmp_path / "run"), "--quiet"])
    line = one_line(capsys, code)
    assert "prepared at 16×16, but this run expects 32×32 (model.resolution)" in line
    assert f"hatebm data prep {tiny_npz} --out DIR --size 32" in line and "data.size=16" in line
    assert not (tmp_path / "run" / "checkpoints").exists()
    # asked for: 16-px images fitted to the 32-px model
    assert main(["train", "tiny", "data.name=prepared", f"data.root={tmp_path / 'p16'}", "data.size=16",
                 "data.resize=resize", "data.workers=0", *TINY, "--out", str(tmp_path / "run"), "--quiet"]) == 0
