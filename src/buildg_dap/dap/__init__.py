"""The Debug Adapter Protocol server."""
