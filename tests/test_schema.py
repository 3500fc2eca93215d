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


@pytest.mark.parametrize("path", sorted(glob.glob(f"{SPECS}/*.yaml")))
def test_specs_validate_against_published_schema(path):
    with open(path) as f:
        jsonschema.validate(yaml.safe_load(f), published_schema())


def test_cli_prints_the_schema():
    result = run_cli("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == build_schema()
