from __future__ import annotations

import pytest

from movierec.domain.movies import vote_source
from movierec.ingest import offline


@pytest.mark.parametrize(("stars", "scale"), [(0.5, 1), (1.0, 2), (2.5, 5), (3.5, 7), (4.0, 8), (5.0, 10)])
def test_stars_to_scale(stars: float, scale: int) -> None:
    assert offline.stars_to_scale(stars) == scale


def test_movielens_catalogue() -> None:
    movies = list(offline.movielens_movies())
    # 9,066 MovieLens movies, five of which have no title and are skipped.
    assert len(movies) == 9_061
    assert len({m.external_key for m in movies}) == len(movies)
    matrix = next(m for m in movies if m.external_key == "movielens:2571")
    assert matrix.title == "The Matrix"
    assert matrix.year == 1999
    assert "Sci-Fi" in matrix.genres
    assert matrix.vote_count > 100_000  # IMDB votes, matched on title and year
    assert 8.0 <= matrix.vote_average <= 9.0
    unmatched = [m for m in movies if m.vote_count == m.popularity]
    assert unmatched, "movies without an IMDB match fall back to MovieLens counts"
    assert all(0 <= m.vote_average <= 10 for m in movies)


def test_movielens_ratings_on_our_scale() -> None:
    ratings = list(offline.movielens_ratings())
    assert len(ratings) == 100_004
    assert len({r.user_key for r in ratings}) == 671
    assert {r.rating for r in ratings} <= set(range(1, 11))


def test_imdb_catalogue() -> None:
    movies = list(offline.imdb_movies())
    assert len(movies) == 58_788
    matrix = [m for m in movies if m.title == "The Matrix" and m.year == 1999]
    assert len(matrix) == 1 and matrix[0].vote_average == 8.5 and "Action" in matrix[0].genres


def test_every_offline_movie_names_the_source_of_its_votes_from_what_is_stored() -> None:
    """``vote_source`` reads only the stored key, vote count and popularity; it must agree, movie by movie, with the
    source the MovieLens loader really took the numbers from (IMDb on a title and year match, else MovieLens)."""
    told = {"IMDb": 0, "MovieLens": 0}
    for movie, source in offline.movielens_movies_with_vote_source():
        assert vote_source(movie.external_key, movie.vote_count, movie.popularity) == source, movie
        told[source] += 1
    assert told == {"IMDb": 5_100, "MovieLens": 3_961}
    assert {vote_source(m.external_key, m.vote_count, m.popularity) for m in offline.imdb_movies()} == {"IMDb"}
