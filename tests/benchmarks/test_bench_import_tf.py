import importlib.util
from pathlib import Path

BENCH = Path(__file__).parents[2] / "benchmarks" / "bench_import_tf.py"


def test_bench_import_tf_at_tiny_width(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH.parent))  # as when the script runs: its sibling modules import
    spec = importlib.util.spec_from_file_location("bench_import_tf", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--width", "32", "--dir", str(tmp_path), "--optim"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("ImageNet-128 hat + generator, width 32") and '"added_over_weights"' in lines[-1]
    assert (tmp_path / "run" / "checkpoints").is_dir()
