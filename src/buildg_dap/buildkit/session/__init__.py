"""The client side of a BuildKit session and the services buildkitd calls back."""
