"""One module per capability of the language server, each with `register(server)`."""
