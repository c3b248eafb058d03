"""All gateway settings in one class; environment prefix BRIDGE3D_, nested with '__'."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bridge3d.mcp.options import McpOptions, SessionPolicy


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
    # The worker pool: host-server processes the gateway starts itself, one per session and per running job.
    workers: int = Field(
        4, ge=0, le=256, description="sessions at most besides the default one (each is a process); 0: no sessions"
    )
    warm_spares: int = Field(
        1, ge=0, le=64, description="workers kept started and idle, so a new session or job need not wait for one"
    )
    job_workers: int = Field(1, ge=0, le=256, description="jobs of this application that run at once; 0: no jobs")
    worker_start_timeout: float = Field(60.0, gt=0, description="seconds a new worker may take to listen")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BRIDGE3D_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    state_dir: Path = Field(
        Path(".state"), description="pid files, logs, workspaces, the gateway's session and job records, job outputs"
    )
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
    session_idle_timeout: float = Field(
        3600.0, gt=0, description="a session nobody used for this many seconds is ended and its worker stopped"
    )
    max_sessions_per_key: int = Field(
        4, ge=1, description="sessions one API key (or, without keys, everyone) may hold per application"
    )
    durability: Literal["always", "everysec", "off"] = Field(
        "everysec",
        description="when a session's journal reaches the disk: before each acknowledgement (always), once a second "
        "(everysec: a power cut may lose the last second), or when the system decides (off); a crash of a worker or "
        "of the gateway loses no acknowledged command with any of them",
    )
    snapshot_every: int = Field(200, ge=1, description="journal entries after which a session's snapshot is taken")
    snapshot_interval: float = Field(
        60.0, gt=0, description="seconds after which a session with new journal entries gets a snapshot"
    )
    session_state_retention: float = Field(
        0.0, ge=0, description="seconds an ended session's journal and snapshot are kept (0: deleted when it ends)"
    )
    job_retention: float = Field(
        7 * 24 * 3600.0,
        gt=0,
        description="seconds a finished job, with its output files, is kept after it ends (then GET answers 404)",
    )
    job_timeout: float = Field(3600.0, gt=0, description="seconds a job may run when it does not ask for a limit")
    max_job_timeout: float = Field(86400.0, gt=0, description="the longest time limit a job may ask for")
    job_attempts: int = Field(
        3, ge=1, le=100, description="times a job is started when its worker dies under it, before it fails"
    )
    max_queued_jobs: int = Field(1000, ge=1, description="jobs waiting to run at most, over all applications")
    max_jobs_per_key: int = Field(
        100, ge=1, description="unfinished (queued or running) jobs one API key (or, without keys, everyone) may have"
    )
    max_job_output_bytes: int = Field(
        2 * 1024 * 1024 * 1024, ge=1, description="largest total size of the files one job may produce"
    )
    job_nice: int = Field(
        10, ge=0, le=19, description="scheduling niceness of job workers, so interactive sessions get the CPU first"
    )
    # Cluster mode (docs/CLUSTER.md): session and job workers become Ray actors on the nodes that offer the resource
    # "blender" or "freecad". Unset, the workers are local processes and nothing of Ray is imported.
    ray_address: str | None = Field(
        None,
        description="the Ray cluster's address (head:6379, or 'auto'; empty: unset); this machine must be a node of "
        "it (usually the head); token authentication (RAY_AUTH_MODE=token) is required",
    )
    ray_namespace: str = Field(
        "bridge3d",
        min_length=1,
        description="Ray namespace of this gateway's named worker actors (a restarted gateway finds its workers "
        "there); gateways sharing one cluster need one each",
    )
    ray_blender_job_gpus: float = Field(
        0.0, ge=0, description="GPUs each Blender job worker asks Ray for (it then runs on a GPU node); 0: none"
    )
    # MCP (docs/MCP.md): the same tools at /mcp (Streamable HTTP) and from `bridge3d mcp` (stdio, which reads the
    # same variables); the defaults are bridge3d.mcp.options.McpOptions'.
    mcp_http: bool = Field(True, description="serve MCP over Streamable HTTP at /mcp")
    mcp_execute: bool = Field(
        McpOptions.execute, description="offer the execute_code tool (also needs BRIDGE3D_ALLOW_EXECUTE=true)"
    )
    mcp_session: SessionPolicy = Field(
        McpOptions.session,
        description="connection: each MCP connection works in sessions of its own, ended with it; default: every "
        "MCP connection shares the default session",
    )
    mcp_image_max_side: int = Field(
        McpOptions.image_max_side, ge=64, le=4096, description="longest side, in pixels, of an image a tool returns"
    )
    mcp_tool_timeout: float = Field(
        McpOptions.tool_timeout,
        gt=0,
        description="seconds one MCP tool call may take (a render or conversion is then cancelled)",
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
