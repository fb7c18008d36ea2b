"""Search engines measured beside the embedded adapter by ``bench/search_engines.py`` (not used by the app)."""
