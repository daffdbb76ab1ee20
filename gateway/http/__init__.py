"""Floor 4: the HTTP API. The app factory, middleware, one module per resource, one place
that registers routes, and the OpenAPI document built from the typed models."""
