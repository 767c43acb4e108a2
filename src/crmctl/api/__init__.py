"""The API documents a package describes (blueprint §15): an OpenAPI 3.1 document of its records API, a JSON Schema
per entity and a GraphQL SDL. Pure functions of a loaded package: no I/O, deterministic. The mapping is described
in docs/api.md."""

__all__ = ["DEFAULT_SERVER"]

# The local sandbox `crmctl serve` listens on by default: the server the documents name unless told otherwise.
DEFAULT_SERVER = "http://127.0.0.1:8000"
