import pytest

from prefsmith.schemas.config import HHIngestConfig, PromptIngestConfig, validate
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.settings_text import load_yaml


def test_unknown_keys_are_errors_that_name_the_key():
    with pytest.raises(UserError, match="unknown key 'alow_empty'"):
        validate(HHIngestConfig, {"source": "x", "alow_empty": True})


def test_bad_values_name_the_key_and_the_choices():
    with pytest.raises(
        UserError, match="subset: unknown subset 'harmless'; choose one of harmless-base"
    ):
        validate(HHIngestConfig, {"source": "x", "subset": "harmless"})
    with pytest.raises(UserError, match="format: Input should be"):
        validate(PromptIngestConfig, {"source": "x", "format": "xml"})


def test_yaml_errors_are_one_line(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(UserError, match="expected a mapping"):
        load_yaml(bad)
