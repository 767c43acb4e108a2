"""Language services over a package, for editors and agents: the symbol index (definitions and references across
artifacts), navigation, rename that keeps compatibility, completion and hover.

Pure and deterministic like the rest of the core: functions take a loaded `Package` (from disk or from unsaved
buffers) and 1-based line/column positions, and return result objects; `crmctl.lsp` turns them into protocol
messages.
"""
