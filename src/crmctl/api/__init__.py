"""The API documents a package describes (blueprint §15): an OpenAPI 3.1 document of its records API, a JSON Schema
per entity and a GraphQL SDL. Pure functions of a loaded package: no I/O, deterministic. The mapping is described
in docs/api.md."""
