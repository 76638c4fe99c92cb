"""The outer layer: the CLI (and later the HTTP API) and the composition root."""
