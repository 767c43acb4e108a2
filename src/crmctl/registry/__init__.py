"""Control plane: the git-based package registry (publish, promote, resolve, verify). See docs/registry.md."""
