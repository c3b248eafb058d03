"""Workers: host-server processes the gateway starts itself, for sessions and jobs (provisioner, pool, sessions)."""
