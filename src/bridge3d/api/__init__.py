"""The FastAPI gateway: REST + WebSocket routes in front of the host servers."""
