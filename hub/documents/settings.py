"""Configuration of documents: ``hub.documents`` in the hub's YAML (see docs/documents.md), and
the folders and URL it resolves to against the loaded configuration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.config import LoadedConfig


class PadesConfig(BaseModel):
    """An X.509 certificate and its key: every PDF also gets a PAdES signature (pyHanko)."""

    model_config = ConfigDict(extra="forbid")
    certificate: str = Field(description="PEM file of the signing certificate")
    key: str = Field(description="PEM file of its private key (readable by the hub only)")
    key_passphrase: SecretStr | None = Field(default=None, description="Passphrase of the key, from ${env:…} or ${file:…}")
    chain: list[str] = Field(default_factory=list, description="PEM files of intermediate certificates")
    field_name: str = Field(default="Signature", pattern=r"^[A-Za-z0-9_.-]+$")
    reason: str = "Certification du document"
    location: str | None = Field(default=None, description="Default: the organisation's city")


class DocumentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys_dir: str | None = Field(default=None, description="Ed25519 signing keys (default: <data_dir>/keys)")
    output_dir: str | None = Field(default=None, description="Where `documents issue` writes PDFs by default "
                                                             "(default: <data_dir>/documents)")
    templates_dir: str | None = Field(default=None, description="Folder of template overrides: common.yaml and "
                                                                "<document type>.yaml")
    public_url: str | None = Field(default=None, description="Base of verification URLs "
                                                             "(default: hub.http.public_url)")
    pades: PadesConfig | None = Field(default=None, description="Also sign PDFs with this X.509 certificate (PAdES)")


def keys_dir(config: "LoadedConfig", settings: DocumentsConfig | None = None) -> Path:
    settings = settings or config.hub.documents
    return config.resolve_path(settings.keys_dir) if settings.keys_dir else config.data_dir / "keys"


def output_dir(config: "LoadedConfig", settings: DocumentsConfig | None = None) -> Path:
    settings = settings or config.hub.documents
    return config.resolve_path(settings.output_dir) if settings.output_dir else config.data_dir / "documents"


def public_url(config: "LoadedConfig", settings: DocumentsConfig | None = None) -> str:
    settings = settings or config.hub.documents
    base = settings.public_url or config.hub.http.public_url
    if base:
        return base.rstrip("/")
    http = config.hub.http
    return f"http://{http.host}:{http.port}"


def organisation(config: "LoadedConfig") -> Any:
    org = config.hub.organisation
    if org is None:
        raise ConfigError(f"{config.path}: hub.organisation: documents need the organisation's identity "
                          "(name, siret, nda, representative, city)")
    return org
