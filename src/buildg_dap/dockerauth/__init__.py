"""Registry credentials from the Docker config and credential helpers, and token fetching."""
