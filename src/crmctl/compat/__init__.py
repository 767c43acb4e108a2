"""Compatibility plane: classify every change between two versions of a package and propose the semver bump."""

from __future__ import annotations

from crmctl.compat.change import Change
from crmctl.compat.classify import DiffResult, diff_packages
from crmctl.compat.kinds import KINDS, ChangeClass, ChangeKind

__all__ = ["KINDS", "Change", "ChangeClass", "ChangeKind", "DiffResult", "diff_packages"]
