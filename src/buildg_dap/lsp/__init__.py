"""The Dockerfile language server (``buildg-dap lsp``): a front end beside the DAP adapter."""
