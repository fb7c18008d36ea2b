"""Contract suites run one set of tests against every adapter of a port (embedded and real)."""
