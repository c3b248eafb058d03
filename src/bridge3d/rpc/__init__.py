"""JSON-RPC 2.0 transport shared by the host servers and the gateway (stdlib only)."""

from .client import RpcClient, RpcConnectionError, RpcTimeout
from .dispatcher import Registry
from .errors import RpcError
from .server import HostServer, ServerConfig
from .workspace import Workspace

__all__ = [
    "HostServer",
    "Registry",
    "RpcClient",
    "RpcConnectionError",
    "RpcError",
    "RpcTimeout",
    "ServerConfig",
    "Workspace",
]
