"""Bad inputs met through the CLI (issue 28): an unreadable image in a streamed folder, prepared data of another size,
seeds outside [0, 2^32), errors that name the flag typed, foreign FID statistics."""
import io
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


def broken_chunk_png() -> bytes:
    """A PNG whose second IDAT chunk header is damaged: PIL raises SyntaxError, not OSError, while decoding it."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (400, 400), dtype=np.uint8)).save(buf, "PNG")
    raw = bytearray(buf.getvalue())
    second = raw.find(b"IDAT", raw.find(b"IDAT") + 4)
    raw[second:second + 4] = b"\x00\x01\x02\x03"
    return bytes(raw)


@pytest.fixture(params=["not_an_image", "broken_chunk"])
def folder(tmp_path, request):
    """16 grey 32×32 PNGs, one of them (sorted last) not an image, or a PNG with a damaged chunk."""
    root = tmp_path / "images"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(15):
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(root / f"{i:02d}.png")
    damaged = b"\x89PNG\r\n\x1a\n" + bytes(40) if request.param == "not_an_image" else broken_chunk_png()
    (root / "zz_broken.png").write_bytes(damaged)
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


@pytest.mark.parametrize("argv,flag", [
    (["sample", "RUN", "--seed", "-1", "--out", "s.npz"], "argument --seed: must be in [0, 4294967295], got -1"),
    (["sample", "RUN", "--seed", str(2**32), "--out", "s.npz"], "argument --seed: must be in [0, 4294967295]"),
    (["fid", "calc", "s.npz", "--ref", "fashion_mnist:test", "--ref-seed", "-2"], "argument --ref-seed: must be"),
    (["ood", "RUN", "--in", "a", "--ood", "b", "--subset-seed", "-3"], "argument --subset-seed: must be"),
    (["proxy-fid", "train", "--seed", "-4"], "argument --seed: must be in"),
])
def test_one_rule_for_seeds_on_the_command_line(capsys, argv, flag):
    with pytest.raises(SystemExit) as stop:  # argparse refuses it, before any work
        main(argv)
    assert flag in one_line(capsys, stop.value.code)


def test_one_rule_for_seeds_in_python(tiny_npz, tmp_path):
    import hatebm
    from hatebm.eval.common import select_images

    with pytest.raises(ValueError, match=r"^seed must be in \[0, 4294967295\], got -1 \(seeds the weights"):
        hatebm.override(hatebm.preset("tiny"), ["seed=-1"]).validate()  # a config's error adds the option's meaning
    with pytest.raises(ValueError, match=r"^seed must be in \[0, 4294967295\], got -1$"):
        select_images(np.zeros((5, 2, 2, 1), np.uint8), 3, seed=-1)
    model = hatebm.train(hatebm.override(hatebm.preset("tiny"), ["data.name=npz", f"data.root={tiny_npz}", "iters=1",
                                                                 "eval_samples=0"]), tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match=r"^seed must be an int in \[0, 4294967295\], got 1.5$"):
        model.draw(2, seed=1.5, progress=False)


@pytest.fixture
def images_npz(tmp_path):
    path = tmp_path / "imgs.npz"
    np.savez(path, images=np.random.default_rng(0).integers(0, 256, (6, 28, 28, 1), dtype=np.uint8))
    return path


@pytest.mark.parametrize("extra,flag", [(["--ref-n", "0"], "--ref-n must be between 2 and the"),
                                        (["--ref-n", "99"], "--ref-n must be between 2 and the 6 images available"),
                                        (["-n", "0"], "-n/--n must be at least 1, got 0"),
                                        (["-n", "9"], "-n/--n must be between 2 and the 6 samples")])
def test_counts_name_the_flag_typed(capsys, images_npz, extra, flag):
    code = main(["fid", "calc", str(images_npz), "--ref", str(images_npz), "--quiet", *extra])
    assert flag in one_line(capsys, code)


def foreign(path, mu=None, sigma=None):
    d = 2048
    rng = np.random.default_rng(0)
    a = rng.standard_normal((d, 8))
    np.savez(path, mu=rng.standard_normal(d) if mu is None else mu, sigma=a @ a.T if sigma is None else sigma)
    return path


@pytest.mark.parametrize("edit,message", [
    (lambda mu, sigma: (np.where(np.arange(2048) == 3, np.nan, mu), sigma), "mu holds 1 non-finite values"),
    (lambda mu, sigma: (mu, np.full_like(sigma, np.inf)), "sigma holds 4194304 non-finite values"),
    (lambda mu, sigma: (mu[:100], sigma), "mu has shape (100,) and sigma (2048, 2048)"),
    (lambda mu, sigma: (mu, sigma[:, :100]), "sigma (2048, 100)"),
    (lambda mu, sigma: (mu, sigma + np.triu(np.ones_like(sigma), 1)), "sigma is not symmetric"),
])
def test_foreign_statistics_are_checked_on_load(capsys, images_npz, tmp_path, edit, message):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 8))
    mu, sigma = edit(rng.standard_normal(2048), a @ a.T)
    stats = foreign(tmp_path / "stats.npz", mu, sigma)
    line = one_line(capsys, main(["fid", "calc", str(images_npz), "--ref", str(stats), "--quiet"]))
    assert line.startswith(f"hatebm fid: error: {stats}: ") and message in line


def test_ref_n_with_statistics_is_refused(capsys, images_npz, tmp_path):
    stats = foreign(tmp_path / "stats.npz")
    line = one_line(capsys, main(["fid", "calc", str(images_npz), "--ref", str(stats), "--ref-n", "5", "--quiet"]))
    assert "--ref-n picks reference images, but" in line


def test_every_image_unreadable_is_one_line(tmp_path, capsys):
    root = tmp_path / "images"
    root.mkdir()
    for i in range(8):
        (root / f"{i}.png").write_bytes(b"not a png")
    code = main(["train", "tiny", "data.name=folder", f"data.root={root}", "data.bad_images=skip", "data.workers=0",
                 *TINY, "--out", str(tmp_path / "run"), "--quiet"])
    assert "no image of" in one_line(capsys, code)


def test_a_run_on_prepared_data_resumes_naming_its_size(tiny_npz, tmp_path):
    """A run trained before prepared sizes were checked (data.size unset, 28-px images for a 32-px model) resumes
    with data.size=28: for prepared data the key only declares the size, so it may be given on resume."""
    assert main(["data", "prep", str(tiny_npz), "--out", str(tmp_path / "p28"), "--size", "28", "--quiet"]) == 0
    run = tmp_path / "run"
    data = ["data.name=prepared", f"data.root={tmp_path / 'p28'}", "data.workers=0"]
    tiny = [t for t in TINY if not t.startswith("iters")]
    assert main(["train", "tiny", *data, "data.size=28", *tiny, "iters=2", "--out", str(run), "--quiet"]) == 0
    for path in [run / "config.json", *run.glob("checkpoints/*/state.json")]:  # as the run was written before
        state = json.loads(path.read_text())
        (state["config"] if "config" in state else state)["data"]["size"] = None
        path.write_text(json.dumps(state))
    assert main(["train", str(run / "config.json"), "data.size=28", "iters=3", "--out", str(run), "--resume",
                 "--quiet"]) == 0


def test_sample_shares_that_do_not_arrive_are_an_error(tmp_path):
    from hatebm.eval.samples import _shares
    from hatebm.model import collect

    def _assemble(folder, n, world):
        return collect(_shares(folder, n, world, slice_size=2), n)

    np.save(tmp_path / "part_00000.npy", np.zeros((3, 2, 2, 1), np.uint8))
    with pytest.raises(OSError, match=r"the shares of rank\(s\) \[1\] are missing"):
        _assemble(tmp_path, 5, 2)
    np.save(tmp_path / "part_00001.npy", np.zeros((1, 2, 2, 1), np.uint8))
    with pytest.raises(OSError, match="hold 4 images, not 5"):
        _assemble(tmp_path, 5, 2)
    np.save(tmp_path / "part_00001.npy", np.ones((2, 2, 2, 1), np.uint8))
    assert _assemble(tmp_path, 5, 2)[3:].min() == 1
