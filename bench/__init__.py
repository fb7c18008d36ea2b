"""Benchmarks measured side by side in one run against a baseline on the same machine.

``movierec bench`` (or ``python -m bench.run`` from the repository root) runs the suite in ``bench/run.py`` and
writes ``bench/RESULTS.md`` and ``bench/results.json``. ``search_engines.py`` and ``recommender_serving.py`` are
smaller stand-alone benches of one part each.
"""
