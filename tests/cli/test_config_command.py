"""`hatebm config schema|table`: the JSON Schema of each kind of run and the option tables of docs/options.md, both
read from the declarations."""
import json
from pathlib import Path

import pytest

from hatebm.cli import main
from hatebm.cli.config import BEGIN, END, tables, write_region
from hatebm.config import CONFIGS, PRESETS, preset, to_dict
from hatebm.config.parse import flat
from hatebm.options import resolve

DOC = Path(__file__).resolve().parents[2] / "docs" / "options.md"


def test_docs_option_tables_are_the_generated_ones():
    text = DOC.read_text(encoding="utf-8")
    assert text.split(BEGIN + "\n", 1)[1].split("\n" + END, 1)[0] == tables(list(CONFIGS)), (
        "docs/options.md is stale: run `hatebm config table --write docs/options.md`")


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_schema_of_each_kind_describes_its_config_files(capsys, kind):
    assert main(["config", "schema", kind]) == 0
    schema = json.loads(capsys.readouterr().out)
    props = schema["properties"]
    assert props["run"] == {"const": kind, "description": "the kind of run"} and schema["required"] == ["run"]
    assert schema["additionalProperties"] is False
    for name, prop in props.items():  # every entry has a default (sections' included) and a meaning
        assert name == "run" or ("default" in prop and prop.get("description")), name
    for name in (n for n in PRESETS if preset(n).KIND == kind):  # every key of a preset is in the schema
        d = to_dict(preset(name))
        for key in flat(d):
            *path, leaf = key.split(".")
            node = schema
            for part in path:
                node = resolve(schema, node["properties"][part])
            assert leaf in node["properties"], (name, key)
    if kind in ("tandem", "joint"):  # a training run's sampler: at least one step
        assert resolve(schema, props["sampler"])["properties"]["steps"]["minimum"] == 1


def test_table_names_unknown_kinds_in_one_line(capsys):
    assert main(["config", "table", "diffusion"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "diffusion" in err[0]


def test_table_writes_only_the_marked_region(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text(f"intro\n{BEGIN}\nold\n{END}\ntail\n")
    write_region(path, "new")
    assert path.read_text() == f"intro\n{BEGIN}\nnew\n{END}\ntail\n"
    path.write_text("no markers\n")
    with pytest.raises(ValueError, match="needs one line"):
        write_region(path, "new")
