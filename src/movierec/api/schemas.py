"""Request and response models: they validate input and generate the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, StringConstraints, field_validator

from movierec.domain.accounts import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    USERNAME_MAX_LENGTH,
    USERNAME_MIN_LENGTH,
    USERNAME_PATTERN,
    normalise_username,
    password_length_problem,
    username_problem,
)
from movierec.domain.ids import MAX_ID
from movierec.domain.movies import Movie, MovieNumbers
from movierec.domain.ratings import MAX_RATING, MIN_RATING, rating_problem
from movierec.domain.recommenders import DEFAULT_STRATEGY, STRATEGIES
from movierec.domain.text import MAX_QUERY_LENGTH, NOT_BLANK_PATTERN
from movierec.services.recommendations import Recommendation

Limit = Annotated[int, Field(ge=1, le=100, description="page size, 1-100")]
Offset = Annotated[int, Field(ge=0, le=9_900, description="items to skip (offset + limit stays within 10,000)")]
# Not empty and not only ASCII spaces; the same regex in the OpenAPI document and in validation.
NOT_BLANK = NOT_BLANK_PATTERN


class Body(BaseModel):
    """Request bodies: strict types (``"5"`` is not 5, ``true`` is not 1); unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class Query(BaseModel):
    """Query strings: numbers arrive as text and are parsed; anything else is refused."""

    model_config = ConfigDict(extra="ignore")


def _username(value: object) -> object:
    """Normalise (NFKC) before the constraints run; say in words what a username must look like."""
    if not isinstance(value, str):
        return value  # the strict str type refuses it
    value = normalise_username(value)
    problem = username_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _password_length(value: object) -> object:
    if isinstance(value, str):
        problem = password_length_problem(value)
        if problem:
            raise ValueError(problem)
    return value


# The constraints come before the validators, so that they are both enforced and in the JSON schema; the validators
# (which run first) normalise, and say in words what to fix.
Username = Annotated[
    StrictStr,
    StringConstraints(min_length=USERNAME_MIN_LENGTH, max_length=USERNAME_MAX_LENGTH, pattern=USERNAME_PATTERN),
    BeforeValidator(_username),
    Field(description="3-32 of letters, digits, _ . - (compared without case: Ada and ada are one account)"),
]
NewPassword = Annotated[
    StrictStr,
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    BeforeValidator(_password_length),
    Field(description="8-256 characters, not the username, not a common password"),
]
AnyPassword = Annotated[StrictStr, Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)]


class Credentials(Body):
    """Registration. The constraints are real (and in the schema); the messages say what to fix. How guessable
    the password is (common, or the username) is the account service's rule."""

    username: Username
    password: NewPassword


class LoginRequest(Body):
    """Login takes any strings: a wrong or malformed username is simply a failed login (401)."""

    username: StrictStr = Field(min_length=1, max_length=256)
    password: AnyPassword


class PasswordChange(Body):
    current_password: AnyPassword
    new_password: NewPassword


class LogoutQuery(Query):
    everywhere: bool = Field(default=False, description="true: every token of yours stops working, on every device")


class RegisterResponse(BaseModel):
    user_id: int
    username: str


class LoginResponse(BaseModel):
    user_id: int
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


def _json_integer(value: object) -> object:
    """JSON Schema's ``integer`` includes numbers with a zero fraction (``9.0``); booleans and strings stay out."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _rating(value: object) -> int:
    value = _json_integer(value)
    problem = rating_problem(value)
    if problem:
        raise ValueError(problem)
    return value  # type: ignore[return-value]


def _movie_id(value: object) -> int:
    value = _json_integer(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ValueError("movie_id must be a positive integer")
    return value


class RateRequest(Body):
    movie_id: Annotated[int, BeforeValidator(_movie_id)] = Field(
        description="the movie's id", json_schema_extra={"minimum": 1, "maximum": MAX_ID}
    )
    rating: Annotated[int, BeforeValidator(_rating)] = Field(
        description="an integer from 1 to 10", json_schema_extra={"minimum": MIN_RATING, "maximum": MAX_RATING}
    )


class RateResponse(BaseModel):
    user_id: int
    movie_id: int
    rating: int
    rated_at: dt.datetime
    community_average: float | None = Field(
        default=None, description="the mean of this app's ratings of the movie, yours included, read after saving"
    )
    community_count: int | None = Field(default=None, description="how many ratings this app has of the movie")


class MovieOut(BaseModel):
    id: int
    tmdb_id: int | None
    title: str
    year: int | None
    release_date: dt.date | None
    genres: list[str]
    overview: str
    vote_average: float = Field(description="the catalogue source's average rating, 0-10 (see vote_source)")
    vote_count: int = Field(description="how many votes the source's average is of")
    popularity: float
    poster_url: str | None
    vote_source: str | None = Field(
        default=None,
        description="who gave vote_average and vote_count: TMDB, IMDb or MovieLens; null when not known",
    )
    community_average: float | None = Field(
        default=None,
        description="the mean of this app's own ratings of the movie (1-10); null when nobody here rated it or "
        "when the ratings could not be read. In recommendations, as of when the list was computed (up to 5 "
        "minutes ago while it is cached)",
    )
    community_count: int | None = Field(
        default=None, description="how many ratings this app has of the movie; null when they could not be read"
    )

    @staticmethod
    def fields_of(movie: Movie, numbers: MovieNumbers | None = None) -> dict[str, object]:
        """``of(movie, numbers)`` as a plain dict, the fields in the model's order, for responses serialised without
        validating again what the store typed already (``pydantic_core.to_json``: the model's bytes)."""
        return {
            "id": movie.id,
            "tmdb_id": movie.tmdb_id,
            "title": movie.title,
            "year": movie.year,
            "release_date": movie.release_date,
            "genres": list(movie.genres),
            "overview": movie.overview,
            "vote_average": float(movie.vote_average),
            "vote_count": movie.vote_count,
            "popularity": float(movie.popularity),
            "poster_url": movie.poster_url(),
            "vote_source": numbers.vote_source if numbers else None,
            "community_average": numbers.community_average if numbers else None,
            "community_count": numbers.community_count if numbers else None,
        }

    @classmethod
    def of(cls, movie: Movie, numbers: MovieNumbers | None = None) -> MovieOut:
        return cls.model_validate(cls.fields_of(movie, numbers))


class MovieList(BaseModel):
    items: list[MovieOut]


class RecommendedMovie(MovieOut):
    score: float
    reason: str = Field(description="why this movie, in words")
    predicted_rating: float | None = Field(
        default=None,
        ge=1,
        le=10,
        description="the rating (1-10) you would likely give it, as the model predicts from your ratings; null for "
        "strategies that do not predict (and for movies like this one)",
    )

    @classmethod
    def of_recommendation(cls, item: Recommendation, numbers: MovieNumbers | None = None) -> RecommendedMovie:
        return cls(
            **MovieOut.of(item.movie, numbers or item.numbers).model_dump(),
            score=item.score,
            reason=item.reason,
            predicted_rating=item.predicted_rating,
        )


class RecommendationsResponse(BaseModel):
    user_id: int
    strategy: str
    cached: bool
    items: list[RecommendedMovie]


class SimilarResponse(BaseModel):
    movie: MovieOut
    items: list[RecommendedMovie]


class SearchResponse(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[MovieOut]


class RatedMovieOut(BaseModel):
    movie: MovieOut
    rating: int
    rated_at: dt.datetime


class MyRatingsResponse(BaseModel):
    user_id: int
    total: int
    items: list[RatedMovieOut]


class ListedMovieOut(BaseModel):
    movie: MovieOut
    added_at: dt.datetime


class MovieListPage(BaseModel):
    """One page of a user's watchlist or not-interested list, most recently added first."""

    user_id: int
    total: int
    items: list[ListedMovieOut]


class ListChange(BaseModel):
    user_id: int
    movie_id: int
    added: bool = Field(description="true when the movie was added now, false when it was on the list already")


class GenreOut(BaseModel):
    name: str
    count: int


class GenresResponse(BaseModel):
    items: list[GenreOut]


class CheckOut(BaseModel):
    status: Literal["ok", "down"]
    adapter: str
    detail: str | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: dict[str, CheckOut]


class LatestQuery(Query):
    limit: Limit = 20
    offset: Offset = 0


class PageQuery(Query):
    limit: Limit = 50
    offset: Offset = 0


class SearchQueryIn(Query):
    q: str | None = Field(
        default=None,
        max_length=MAX_QUERY_LENGTH,
        description="title or genre words (up to 200 characters, not only spaces; empty is the same as absent)",
        json_schema_extra={"pattern": f"^$|{NOT_BLANK}"},
    )
    genre: str | None = Field(
        default=None, max_length=64, description="only movies of this genre", json_schema_extra={"pattern": NOT_BLANK}
    )
    limit: Limit = 20
    offset: Offset = 0

    @field_validator("q", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: object) -> object:
        return None if value == "" else value  # what an HTML form sends for an empty search box

    @field_validator("q", "genre")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not re.search(NOT_BLANK, value):
            raise ValueError("must not be empty")
        return value


StrategyName = Annotated[str, Field(max_length=32, json_schema_extra={"enum": list(STRATEGIES)})]


class RecommendationsQuery(Query):
    strategy: StrategyName | None = Field(
        default=None,
        description=f"how to pick: one of {', '.join(STRATEGIES)}; {DEFAULT_STRATEGY} when not given",
        json_schema_extra={"default": DEFAULT_STRATEGY},  # what the API uses when the parameter is absent
    )
    genre: str | None = Field(
        default=None, max_length=64, description="only movies of this genre", json_schema_extra={"pattern": NOT_BLANK}
    )
    limit: Limit = 20

    @field_validator("genre")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not re.search(NOT_BLANK, value):
            raise ValueError("must not be empty")
        return value


class SimilarQuery(Query):
    limit: Limit = 10


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, str]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
