"""The published JSON Schema is current and accepts every shipped spec."""
import glob
import json
import os

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


def test_every_resolved_spec_is_itself_a_spec():
    # a run writes spec.resolved.yaml with every default filled in: it checks clean and compiles to the same plan
    from ngdsl.compiler import compile_file, compile_text
    for path in SPEC_FILES:
        compiled = compile_file(path)
        again = compile_text(yaml.safe_dump(compiled.resolved, sort_keys=False), "spec.resolved.yaml",
                             os.path.dirname(path))
        assert again.plan == compiled.plan, path


def test_cli_writes_the_schema_to_a_file(tmp_path):
    out = tmp_path / "ngdsl.schema.json"
    assert run_cli("schema", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text()) == build_schema()


def test_cli_prints_the_schema():
    result = run_cli("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == build_schema()


def test_every_key_of_the_schema_says_what_it_means():
    """Editors show these on hover (yaml-language-server): no property goes without a description."""
    missing = []

    def walk(node, path):
        if not isinstance(node, dict):
            return
        for name, child in node.get("properties", {}).items():
            if isinstance(child, dict) and not child.get("description"):
                missing.append("/".join(path + (name,)))
            walk(child, path + (name,))
        for key in ("anyOf", "oneOf", "allOf"):
            for child in node.get(key, []):
                walk(child, path)
        walk(node.get("additionalProperties"), path + ("*",))
        walk(node.get("items"), path + ("[]",))
    walk(build_schema(), ())
    assert not missing, missing


def test_a_missing_dataset_lists_the_datasets():
    result = run_cli("check", os.path.join(SPECS, "pc_digits.yaml"), "--set", "data={test_fraction: 0.2}")
    assert result.returncode == 2
    assert ("missing required key 'dataset' in data (one of bars, blobs, classification, csv, digits, files, gaussian, "
            "moons, npz, onehot, parity, xor)") in result.stderr
