"""The HTTP API: the app factory, routes, authentication (API keys, OIDC), problem responses,
schemas, metrics and the request-size limit."""
