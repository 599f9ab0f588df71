"""The sync engine: one sync operation, the DataUpdate ledger, schedule semantics, health."""
