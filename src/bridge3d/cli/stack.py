"""The whole stack on one machine: `bridge3d up` (foreground or detached) and `bridge3d stop`.

`up` starts the headless Blender and FreeCAD host servers and the gateway under one ``Supervisor``, with fresh
host-server tokens for this run, pid files and logs under the state directory. `up --detach` (what
``scripts/start_all.sh`` runs) starts that same supervisor in a new session and waits until /health is green.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bridge3d import logfiles
from bridge3d.api.config import BackendSettings, Settings

from .health import print_health
from .policy import SupervisionPolicy
from .probes import HostEndpoint
from .service import ServiceSpec, StartupError, log_tail
from .state import HOST_APPS, SERVICES, SUPERVISOR, StateDir, stop_stack
from .supervisor import Supervisor

logger = logging.getLogger("bridge3d.supervisor")

DESCRIPTIONS = {"api": "gateway", "blender": "Blender host server", "freecad": "FreeCAD host server"}


class OperationsSettings(BaseSettings):
    """Settings of `bridge3d up` / `stop` and the start/stop scripts (env BRIDGE3D_*, also read from .env)."""

    model_config = SettingsConfigDict(env_prefix="BRIDGE3D_", env_file=".env", extra="ignore")

    start_timeout: float = Field(120.0, gt=0, description="seconds a service may take to answer after it starts")
    stop_grace: float = Field(10.0, ge=0, description="seconds between SIGTERM and SIGKILL when stopping")
    supervise_ping_interval: float = Field(2.0, gt=0, description="seconds between rpc.ping probes of a host")
    supervise_ping_timeout: float = Field(5.0, gt=0, description="seconds one probe may take")
    supervise_hang_timeout: float = Field(
        60.0, gt=0, description="restart a host that has not answered rpc.ping, and used no CPU, for this long"
    )
    supervise_max_busy: float = Field(
        600.0,
        gt=0,
        description="rpc.cancel a command that holds a host's main thread this long; restart the host if the command "
        "still runs after the cancel grace while using no CPU (a host that works is never restarted)",
    )
    supervise_cancel_grace: float = Field(5.0, ge=0, description="seconds rpc.cancel gets before the restart")
    supervise_max_restarts: int = Field(5, ge=0, description="restarts per window before a service is left down")
    supervise_restart_window: float = Field(300.0, gt=0, description="seconds of the restart-counting window")
    supervise_backoff: float = Field(0.5, ge=0, description="first restart delay; doubles per restart in the window")
    supervise_backoff_max: float = Field(30.0, ge=0, description="longest restart delay")
    log_max_bytes: int = Field(
        logfiles.DEFAULT_MAX_BYTES,
        ge=0,
        description="rotate a log (logs/*.log, logs/workers/*.log) when it reaches this size; 0: never",
    )
    log_backups: int = Field(logfiles.DEFAULT_BACKUPS, ge=0, description="rotated copies kept of a log (.1, .2, ...)")

    def log_limits(self) -> logfiles.LogLimits:
        return logfiles.LogLimits(max_bytes=self.log_max_bytes, backups=self.log_backups)

    def policy(self) -> SupervisionPolicy:
        return SupervisionPolicy(
            ping_interval=self.supervise_ping_interval,
            ping_timeout=self.supervise_ping_timeout,
            hang_timeout=self.supervise_hang_timeout,
            max_busy=self.supervise_max_busy,
            cancel_grace=self.supervise_cancel_grace,
            max_restarts=self.supervise_max_restarts,
            restart_window=self.supervise_restart_window,
            backoff=self.supervise_backoff,
            backoff_max=self.supervise_backoff_max,
            start_timeout=self.start_timeout,
            stop_grace=self.stop_grace,
            logs=self.log_limits(),
        )


def local_address(host: str) -> str:
    """Where a client on this machine reaches a listener bound to ``host``."""
    return "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host


def gateway_url(settings: Settings) -> str:
    return f"http://{local_address(settings.host)}:{settings.port}"


def backend(settings: Settings, app: str) -> BackendSettings:
    backend_settings: BackendSettings = getattr(settings, app)
    return backend_settings


def build_specs(
    settings: Settings, state: StateDir, tokens: dict[str, str], logs: logfiles.LogLimits | None = None
) -> list[ServiceSpec]:
    """The three services: each host server on the port and with the token the gateway is told to use; the gateway
    also gets the log limits (for its workers' logs) in its environment, since they may come from .env.

    Tokens travel through pipes (``--token-fd``, ``--backend-tokens-fd``), never in an environment or a command
    line: any program of the same user can read /proc/<pid>/environ and /proc/<pid>/cmdline.
    """
    base_env = {
        key: value
        for key, value in os.environ.items()
        if not (key.endswith("TOKEN") and key.startswith(("BRIDGE3D_BLENDER_", "BRIDGE3D_FREECAD_")))
    }
    base_env["PYTHONUNBUFFERED"] = "1"
    python = [sys.executable, "-m", "bridge3d.cli.main"]
    specs = []
    gateway_env = base_env | {"BRIDGE3D_STATE_DIR": str(state.root)}  # its session and job records, its workers
    gateway_env |= (logs or logfiles.LogLimits()).environment()
    for app in HOST_APPS:
        reach = backend(settings, app)
        workspace = os.environ.get(f"BRIDGE3D_{app.upper()}_WORKSPACE") or str(state.workspace(app))
        specs.append(
            ServiceSpec(
                name=app,
                description=DESCRIPTIONS[app],
                command=(*python, app, "--host", reach.host, "--port", str(reach.port), "--workspace", workspace),
                env=base_env,
                endpoint=HostEndpoint(local_address(reach.host), reach.port, tokens[app]),
                secret=("--token-fd", tokens[app]),
            )
        )
        prefix = f"BRIDGE3D_{app.upper()}__"
        gateway_env |= {prefix + "HOST": reach.host, prefix + "PORT": str(reach.port)}
    specs.insert(
        0,
        ServiceSpec(
            name="api",
            description=DESCRIPTIONS["api"],
            command=(*python, "api", "--host", settings.host, "--port", str(settings.port)),
            env=gateway_env,
            ready_url=gateway_url(settings) + "/version",
            secret=("--backend-tokens-fd", json.dumps(tokens)),
        ),
    )
    return specs


def port_problems(settings: Settings) -> list[str]:
    """A clear sentence for every port this stack needs that is taken (or named twice)."""
    wanted = [("api", settings.host, settings.port, "BRIDGE3D_PORT")]
    for app in HOST_APPS:
        wanted.append((app, backend(settings, app).host, backend(settings, app).port, f"BRIDGE3D_{app.upper()}__PORT"))
    problems = []
    seen: dict[int, str] = {}
    for name, host, port, variable in wanted:
        if port in seen:
            problems.append(f"port {port} is set for both the {DESCRIPTIONS[seen[port]]} and the {DESCRIPTIONS[name]}")
            continue
        seen[port] = name
        error = bind_error(host, port)
        if error is not None:
            problems.append(
                f"port {port} (for the {DESCRIPTIONS[name]}) is already in use by another program ({error}); "
                f"stop that program or choose another port with {variable}"
            )
    return problems


def bind_error(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # The servers set SO_REUSEADDR too, so a port in TIME_WAIT is not reported as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def preflight(settings: Settings, state: StateDir) -> int | None:
    """None when a new stack may start here; else the exit code (0: it is already running) after saying why not."""
    supervisor = state.running_pid(SUPERVISOR)
    if supervisor is not None:
        print(
            f"bridge3d is already running (supervisor pid {supervisor}, state directory {state.root}); nothing started."
        )
        print("Stop it with scripts/stop_all.sh (or bridge3d stop).")
        return 0
    orphans = {name: pid for name in SERVICES if (pid := state.running_pid(name)) is not None}
    if orphans:
        listed = ", ".join(f"{name} (pid {pid})" for name, pid in orphans.items())
        print(
            f"{listed} from an earlier run still running without its supervisor; "
            "stop them first with scripts/stop_all.sh (or bridge3d stop)",
            file=sys.stderr,
        )
        return 1
    problems = port_problems(settings)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else None


def write_run_file(state: StateDir, settings: Settings, tokens: dict[str, str]) -> None:
    url = gateway_url(settings)
    run: dict[str, Any] = {"api_url": url, "docs_url": url + "/docs", "state_dir": str(state.root)}
    for app in HOST_APPS:
        reach = backend(settings, app)
        run[app] = {"host": local_address(reach.host), "port": reach.port, "token": tokens[app]}
    state.write_json(state.run_file, run, private=True)


def configure_logging(level: str, log_file: Path) -> None:
    """Log to stderr and to the state directory's supervisor.log (once, when stderr already is that file)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if not same_file(sys.stderr.fileno(), log_file):
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True
    )


def same_file(descriptor: int, path: Path) -> bool:
    try:
        opened, named = os.fstat(descriptor), path.stat()
    except OSError:
        return False
    return (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)


def run_foreground(settings: Settings, operations: OperationsSettings, state: StateDir) -> int:
    """`bridge3d up`: start, supervise until SIGINT/SIGTERM/SIGHUP, then stop everything."""
    configure_logging(settings.log_level, state.log_file(SUPERVISOR))
    tokens = {app: secrets.token_urlsafe(24) for app in HOST_APPS}
    policy = operations.policy()
    supervisor = Supervisor(build_specs(settings, state, tokens, policy.logs), state, policy)
    if not supervisor.acquire():
        logger.error("another supervisor is running with the state directory %s; nothing started", state.root)
        return 1

    def stop(signum: int, _frame: Any) -> None:
        if not supervisor.stopping:
            logger.info("%s: stopping everything", signal.Signals(signum).name)
        supervisor.request_stop()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        write_run_file(state, settings, tokens)
        try:
            supervisor.start()
        except StartupError as exc:
            if supervisor.stopping:
                return 1
            logger.error("start-up failed: %s", exc)
            tail = log_tail(state.log_file(exc.service))
            if tail:
                logger.error("last lines of %s:\n%s", state.log_file(exc.service), tail)
            return 1
        url = gateway_url(settings)
        logger.info("ready: API %s  docs %s/docs  logs %s  (stop: Ctrl-C or bridge3d stop)", url, url, state.logs)
        supervisor.watch()
        supervisor.wait()
        return 0
    finally:
        supervisor.shutdown()
        state.run_file.unlink(missing_ok=True)
        supervisor.release()


def run_detached(settings: Settings, operations: OperationsSettings, state: StateDir) -> int:
    """`bridge3d up --detach`: the supervisor in a new session; return once /health is green (or say why not)."""
    state.prepare()
    log_path = state.log_file(SUPERVISOR)
    offset = log_path.stat().st_size if log_path.exists() else 0
    command = [sys.executable, "-m", "bridge3d.cli.main", "up", "--state-dir", str(state.root.resolve())]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # no controlling terminal: closing the shell does not stop it
        )
    print(f"started the supervisor (pid {process.pid}); it starts Blender, FreeCAD and the gateway")
    print(f"waiting for /health to be green (up to {operations.start_timeout:g} s per service); log {log_path}")
    try:
        failed = wait_until_running(process, state, operations, log_path, offset)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; the supervisor (pid {process.pid}) goes on in the background: "
            "scripts/stop_all.sh (or bridge3d stop) stops it",
            file=sys.stderr,
        )
        return 130
    if failed is not None:
        return failed
    url = gateway_url(settings)
    healthy = print_health(url, timeout=5)
    print(f"ready: API {url}  docs {url}/docs  logs {state.logs}  (stop: scripts/stop_all.sh or bridge3d stop)")
    return 0 if healthy else 1


def wait_until_running(
    process: subprocess.Popen[bytes], state: StateDir, operations: OperationsSettings, log_path: Path, offset: int
) -> int | None:
    """None once the detached supervisor reports every service up; else the exit code after saying why not."""
    deadline = time.monotonic() + operations.start_timeout + 30
    while True:
        code = process.poll()
        if code is not None:
            print("start-up failed; the supervisor said:", file=sys.stderr)
            print(new_log_text(log_path, offset), file=sys.stderr)
            return 1
        status = state.read_json(state.status_file)
        if status.get("supervisor_pid") == process.pid and status.get("phase") == "running":
            return None
        if time.monotonic() >= deadline:
            waiting = [name for name, info in status.get("services", {}).items() if info.get("state") != "up"]
            names = ", ".join(waiting) or "the services"
            print(f"timed out waiting for {names}; logs in {state.logs}", file=sys.stderr)
            stop_stack(state, operations.stop_grace, print)
            return 1
        time.sleep(0.2)


def new_log_text(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as file:
            file.seek(offset if offset <= path.stat().st_size else 0)  # rotated meanwhile: all of the new log
            return file.read().decode(errors="replace").rstrip()
    except OSError:
        return ""


def cmd_up(state_dir: str | None, detach: bool) -> int:
    settings = Settings()
    operations = OperationsSettings()
    state = StateDir((Path(state_dir) if state_dir else settings.state_dir).resolve())

    refused = preflight(settings, state)
    if refused is not None:
        if refused == 0 and detach:
            # Ask the running stack's own gateway (the environment may name other ports now).
            url = state.read_json(state.run_file).get("api_url") or gateway_url(settings)
            healthy = print_health(url, timeout=5)
            if not healthy:
                print(
                    f"not everything is up; see the logs in {state.logs} (to start afresh: stop_all.sh, start_all.sh)",
                    file=sys.stderr,
                )
            return 0 if healthy else 1
        return refused if detach else max(refused, 1)
    if detach:
        return run_detached(settings, operations, state)
    return run_foreground(settings, operations, state)


def cmd_stop(state_dir: str | None, grace: float | None) -> int:
    operations = OperationsSettings()
    state = StateDir((Path(state_dir) if state_dir else Settings().state_dir).resolve())
    return stop_stack(state, operations.stop_grace if grace is None else grace, print)
