"""The service's settings, read from MEDBRIEF_* environment variables; fails fast."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service can be told, with sensible defaults."""

    model_config = SettingsConfigDict(env_prefix="MEDBRIEF_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    model_dir: Path | None = Field(
        default=None, description="model folder (default: see medbrief.locations)"
    )
    data_dir: Path | None = Field(
        default=None, description="labelled articles to retrain from (default: see "
        "medbrief.locations)"
    )
    admin_key: SecretStr | None = Field(
        default=None, description="key for POST /v1/model/retrain; unset disables the route"
    )
    corrections_dir: Path | None = Field(
        default=None, description="where the page's corrections go (default: see "
        "medbrief.locations)"
    )
    max_corrections: int = Field(default=1_000, ge=1, description="corrected articles kept")
    train_if_missing: bool = True
    max_body_bytes: int = Field(default=2_000_000, ge=1_000)
    max_paragraphs: int = Field(default=2_000, ge=1)
    max_sentences: int = Field(default=20, ge=1)
    max_batch: int = Field(default=32, ge=1)
    reload_seconds: float = Field(default=1.0, gt=0, description="seconds between model checks")
    header_timeout: float = Field(
        default=10.0, gt=0, description="seconds a connection has to send a request's headers"
    )
    body_timeout: float = Field(
        default=30.0, gt=0, description="seconds a request has to send its whole body"
    )
