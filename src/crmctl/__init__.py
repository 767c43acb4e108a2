"""crmctl: command-line tool and git-based package repository for a metadata-driven CRM platform."""

__all__ = ["__version__"]

__version__ = "0.1.0"
