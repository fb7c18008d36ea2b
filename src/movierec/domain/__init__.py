"""Pure domain: value objects, rules, recommenders and evaluation metrics (no I/O frameworks)."""
