"""The supervisor's limits: how often to probe, what counts as hung or too busy, how restarts back off."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge3d.logfiles import LogLimits


@dataclass(frozen=True)
class SupervisionPolicy:
    """Limits of the supervisor; every field has a BRIDGE3D_* setting (see .env.example)."""

    ping_interval: float = 2.0
    ping_timeout: float = 5.0
    hang_timeout: float = 60.0
    max_busy: float = 600.0
    cancel_grace: float = 5.0
    max_restarts: int = 5
    restart_window: float = 300.0
    backoff: float = 0.5
    backoff_max: float = 30.0
    start_timeout: float = 120.0
    stop_grace: float = 10.0
    logs: LogLimits = field(default_factory=LogLimits)  # rotation of the supervisor's and the services' logs

    def restart_delay(self, recent_restarts: int) -> float:
        """Seconds to wait before the next restart, given how many happened inside the window."""
        return float(min(self.backoff * 2**recent_restarts, self.backoff_max))
