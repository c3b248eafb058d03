"""The `bridge3d` command line."""
