"""The Search port and its adapters (embedded engine, Elasticsearch)."""

from movierec.search.port import MovieIndex, SearchPage, SearchQuery, SearchUnavailable

__all__ = ["MovieIndex", "SearchPage", "SearchQuery", "SearchUnavailable"]
