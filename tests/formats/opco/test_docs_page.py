"""docs/formats/opco.md documents every key, column and status code of the format."""

from __future__ import annotations

from pydantic import BaseModel

from funder_formats.opco.config import OpcoConfig
from funder_formats.opco.profile import COLUMNS, STATUS_CODES, Profile
from hub.formats import FunderFormatConfig
from tests.test_journeys import ROOT

PAGE = (ROOT / "docs" / "formats" / "opco.md").read_text(encoding="utf-8")


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.extend(_keys(ann, f"{prefix}{name}."))
        else:
            out.append(prefix + name)
    return out


def test_every_config_key_is_documented():
    own = [k for k in _keys(OpcoConfig) if k.split(".")[0] not in FunderFormatConfig.model_fields]
    missing = [k for k in own if f"`{k}`" not in PAGE]
    assert not missing, f"keys of OpcoConfig missing from docs/formats/opco.md: {missing}"


def test_every_profile_key_column_and_status_is_documented():
    keys = [k for k in _keys(Profile) if not k.startswith("labels.yes") and not k.startswith("labels.no")]
    missing = [k for k in keys if f"`{k}`" not in PAGE]
    missing += [c for c in COLUMNS if f"`{c}`" not in PAGE]
    missing += [s for s in STATUS_CODES if f"`{s}`" not in PAGE]
    assert not missing, f"missing from docs/formats/opco.md: {missing}"
    assert "`labels.yes_text`" in PAGE and "`labels.no_text`" in PAGE
