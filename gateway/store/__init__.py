"""Floor 2: PostgreSQL. Every SQL statement the gateway runs is executed here, by a function
that takes a connection (or pool) and plain arguments; driver errors are translated once, in
``gateway.store._run``, into ``gateway.core.errors.DatabaseError``."""
