"""Presentation layer: the command line. The only place that knows typer and rich."""
