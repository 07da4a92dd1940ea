"""docs/connectors/xapi.md documents every key, verb, event type and skip reason of the connector."""

from pathlib import Path

import pytest

from connectors.xapi import XapiConfig
from connectors.xapi.mapping import EMITS, SKIP_REASONS, VERBS, VOIDED
from hub.connector import ConnectorConfig

PAGE = (Path(__file__).resolve().parents[3] / "docs" / "connectors" / "xapi.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("key", [k for k in XapiConfig.model_fields if k not in ConnectorConfig.model_fields])
def test_every_key_is_documented(key):
    assert f"| `{key}` |" in PAGE


@pytest.mark.parametrize("iri", sorted({*VERBS, VOIDED}))
def test_every_mapped_verb_is_in_the_table(iri):
    assert f"`{iri}`" in PAGE


@pytest.mark.parametrize("type_", EMITS)
def test_every_emitted_type_is_documented(type_):
    assert f"| `{type_}` |" in PAGE


@pytest.mark.parametrize("reason", sorted(SKIP_REASONS))
def test_every_skip_reason_is_documented(reason):
    assert f"| `{reason}` |" in PAGE
