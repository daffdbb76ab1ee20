"""Floor 3: the dispatcher and everything it needs to ask agencies carefully: claim loops,
retries, circuit breakers, retry budgets, agency limits across replicas, group commit."""
