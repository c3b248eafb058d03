"""All gateway settings in one class; environment prefix BRIDGE3D_, nested with '__'."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, Field, SecretStr, field_validator
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
    api_key: SecretStr | None = Field(
        None, description="one key or several, comma-separated; required on every /api/v1 and WebSocket call when set"
    )
    allow_execute: bool = Field(True, description="false: /execute, WebSocket execute and code steps in /batch are 403")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header names accepted on loopback connections besides localhost, 127.0.0.1 and [::1] "
        "(DNS-rebinding check); '*.example.org' matches its subdomains",
    )
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
    max_render_size: int = Field(4096, ge=1, description="the longest side, in pixels, a render may ask for")
    max_render_samples: int = Field(1024, ge=1, description="most samples a render may ask for")
    max_request_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="largest request body, except uploads (those: max_upload_bytes)"
    )
    max_batch_steps: int = Field(10_000, ge=1, description="most steps in one /batch")
    max_primitive_faces: int = Field(
        512 * 512, ge=1, description="most faces one Blender primitive may have (a sphere's segments x rings)"
    )
    max_batch_faces: int = Field(
        1_000_000,
        ge=1,
        description="most faces the Blender primitives of one request or /batch may have together "
        "(time and memory grow with them: 1,000,000 faces take about 4 s and 800 MB in Blender)",
    )
    max_objects_per_request: int = Field(
        10_000,
        ge=1,
        description="most items in any list a request carries (export objects, boolean operands in a batch step) "
        "and the largest page /objects returns",
    )
    max_execute_timeout: float = Field(
        600.0, gt=0, description="longest time limit in seconds one code execution may ask for (and gets by default)"
    )
    ws_heartbeat_interval: float = Field(15.0, gt=0, description="seconds between heartbeat messages on a WebSocket")
    ws_idle_timeout: float = Field(
        300.0, gt=0, description="a WebSocket whose client sends nothing (not even a ping) for this long is closed"
    )
    ws_max_message_bytes: int = Field(1024 * 1024, ge=1024, description="largest accepted WebSocket message")
    ws_max_connections: int = Field(256, ge=1, description="open WebSockets per backend")
    ws_max_pending: int = Field(64, ge=1, description="executions one WebSocket may have queued or running")
    ws_send_queue: int = Field(
        10_000, ge=16, description="messages held for a WebSocket client that reads too slowly before it is dropped"
    )
    blender: BackendSettings = BackendSettings(port=9876)
    freecad: BackendSettings = BackendSettings(port=9877)

    @field_validator("api_key")
    @classmethod
    def _blank_key_is_no_key(cls, value: SecretStr | None) -> SecretStr | None:
        """`BRIDGE3D_API_KEY=` (or only commas) means no key, not a key nobody can send."""
        return value if value is not None and split_keys(value.get_secret_value()) else None

    def api_keys(self) -> list[str]:
        return split_keys(self.api_key.get_secret_value()) if self.api_key is not None else []


def split_keys(value: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
