"""The published JSON Schema stays in step with the catalogue; the wheel carries the zoo."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from archcalc.spec import zoo
from archcalc.spec.loader import parse_file, plain
from archcalc.spec.schema import spec_schema

ROOT = Path(__file__).resolve().parent.parent


def test_published_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "archcalc-spec.schema.json").read_text())
    assert published == spec_schema(), "regenerate: archcalc schema > docs/archcalc-spec.schema.json"
    jsonschema.Draft202012Validator.check_schema(published)


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_specs_validate_against_the_schema(name: str) -> None:
    doc = plain(parse_file(zoo.path(name)))
    errors = sorted(jsonschema.Draft202012Validator(spec_schema()).iter_errors(doc), key=str)
    assert not errors, errors[0].message


def test_schema_takes_an_input_shape_with_variables() -> None:
    """The loader interpolates references in the input (EfficientNet's 3x${res}x${res}); the schema agrees."""
    validator = jsonschema.Draft202012Validator(spec_schema())
    for shape in ("3x${res}x${res}", "$shape", "3x224x224"):
        assert not list(validator.iter_errors({"input": shape, "layers": [{"relu": None}]})), shape
    assert list(validator.iter_errors({"input": "3xres", "layers": [{"relu": None}]}))


def test_schema_rejects_unknown_attributes() -> None:
    bad = {"input": "3x8x8", "layers": [{"conv": {"out": 8, "kernal": 3}}]}
    assert list(jsonschema.Draft202012Validator(spec_schema()).iter_errors(bad))


def test_wheel_ships_the_zoo(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {proc.stderr.strip().splitlines()[-1:]}")
    wheel = next(tmp_path.glob("archcalc-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "archcalc/specs/vgg16.yaml" in names
    assert {f"archcalc/specs/{zoo.path(n).name}" for n in zoo.names()} <= set(names)  # a family: one file
    assert "archcalc/py.typed" in names
    page = {"report.html", "compare.html", "page.css", "common.js", "report.js", "compare.js"}  # archcalc report's
    assert {f"archcalc/report/assets/{n}" for n in page} <= set(names)
