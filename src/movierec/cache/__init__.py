"""The Cache port and its adapters (in-process TTL cache, Redis)."""

from movierec.cache.port import Cache, CacheUnavailable

__all__ = ["Cache", "CacheUnavailable"]
