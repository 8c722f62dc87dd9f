"""buildg-dap: an interactive debugger for Dockerfile builds on a stock BuildKit."""

__version__ = "0.1.0"
