"""The demo city: deterministic sample data that makes every feature visible on a fresh install."""
