"""Floor 1: plain values and pure functions every other package may use (settings, errors,
identifiers, request models, logging, metrics). Imports nothing of the gateway above it."""
