"""Development tools of the source checkout, not part of what the product runs: ``movierec stack`` (the local full
stack's process supervisor). The ``movierec`` command imports them only when one of their commands is run."""
