"""Floor 3: who may do what. Callers and tokens, admission of batches (the rules that
intercept, the alerts that flag, approvals), the audit chain, cases and administration."""
