"""The published JSON Schema is current and accepts every shipped spec."""
import glob
import json

import jsonschema
import pytest
import yaml

from ngdsl.compiler.schema import SCHEMA_FILE, build_schema, published_schema

from conftest import SPECS, run_cli


def test_published_schema_is_current():
    assert published_schema() == build_schema(), f"regenerate it: ngdsl schema -o {SCHEMA_FILE}"


SPEC_FILES = sorted(glob.glob(f"{SPECS}/*.yaml") + glob.glob(f"{SPECS}/../benchmarks/specs/*.yaml"))


@pytest.mark.parametrize("path", SPEC_FILES)
def test_specs_validate_against_published_schema(path):
    with open(path) as f:
        jsonschema.validate(yaml.safe_load(f), published_schema())


@pytest.mark.parametrize("path", SPEC_FILES)
def test_every_shipped_spec_checks_clean(path):
    result = run_cli("check", path)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_cli_writes_the_schema_to_a_file(tmp_path):
    out = tmp_path / "ngdsl.schema.json"
    assert run_cli("schema", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text()) == build_schema()


def test_cli_prints_the_schema():
    result = run_cli("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == build_schema()
