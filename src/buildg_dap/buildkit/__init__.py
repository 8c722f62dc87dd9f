"""Talking to buildkitd: connection, control API, gateway, LLB and errors."""
