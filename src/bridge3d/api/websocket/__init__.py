"""WebSocket endpoints: live code execution and event subscriptions (see handler.py)."""
