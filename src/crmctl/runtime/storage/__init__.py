"""The runtime store's parts, composed by `runtime.store.Store`: one `Connection` (transactions, batch inserts,
how values cross into DuckDB) shared by one collaborator per table — `Schema` (the format and its migrations),
`EventLog`, `Records`, `Drafts`, `WorkflowInstances`, `PackageCopies` — each owning its table's queries. `errors`
holds the store's errors and the translation of DuckDB's."""
