"""The editor's language server (`crmctl lsp`): presentation only. It keeps the editor's unsaved buffers, loads
packages from them, and renders what `crmctl.lint`, `crmctl.compat`, `crmctl.lang` and the formatter return as
Language Server Protocol messages over stdio."""
