"""All gateway settings in one class; environment prefix BRIDGE3D_, nested with '__'."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackendSettings(BaseModel):
    """How the gateway reaches one host server."""

    host: str = "127.0.0.1"
    port: int = Field(9876, ge=1, le=65535)
    token: SecretStr | None = None
    connect_timeout: float = Field(2.0, gt=0, description="seconds to open a TCP connection")
    call_timeout: float = Field(120.0, gt=0, description="default seconds to wait for one command")
    pool_size: int = Field(4, ge=1, le=256, description="persistent connections kept per backend")
    acquire_timeout: float = Field(10.0, gt=0, description="seconds to wait for a free pooled connection")
    connect_retries: int = Field(2, ge=0, le=10, description="retries of a failed connect (never of a sent request)")
    retry_backoff: float = Field(0.05, ge=0, description="first retry delay in seconds; doubles, with jitter")
    max_frame_bytes: int = Field(64 * 1024 * 1024, ge=1024)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BRIDGE3D_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = None
    allow_execute: bool = True
    cors_origins: list[str] = Field(
        default_factory=lambda: [
            "http://localhost",
            "http://127.0.0.1",
            "http://localhost:8000",
            "http://127.0.0.1:8000",
        ]
    )
    log_level: str = "INFO"
    max_upload_bytes: int = Field(512 * 1024 * 1024, ge=1, description="largest accepted upload")
    max_render_pixels: int = Field(4096 * 4096, ge=1, description="largest width x height a render may ask for")
    max_render_samples: int = Field(1024, ge=1, description="most samples a render may ask for")
    blender: BackendSettings = BackendSettings(port=9876)
    freecad: BackendSettings = BackendSettings(port=9877)


@lru_cache
def get_settings() -> Settings:
    return Settings()
