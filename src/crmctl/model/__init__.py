"""Control plane, bottom layer: the package format, its loader and its canonical form."""
