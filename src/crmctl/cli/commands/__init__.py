"""One module per command family; each function parses nothing, calls the core, renders, returns an exit code."""
