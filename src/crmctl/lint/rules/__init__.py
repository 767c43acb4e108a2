"""The rule catalogue, grouped by artifact. Each module lists its rule classes in `RULES`."""
