"""Async pooled JSON-RPC clients for the host servers."""
