"""Floor 5: the ``gateway`` command (serve, migrate, demo, tokens, cases, audit, keys)."""
