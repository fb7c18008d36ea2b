"""``movierec stack``: the Docker Compose topology run from local binaries on loopback.

PostgreSQL, Redis, Kafka and Elasticsearch (the ones ``scripts/services`` runs, unless the environment names
others), ``movierec migrate`` once, an optional seed, two gunicorn backends, Nginx over them (Debian's binary, a
foreground child with its own pid file, error log and temp dirs under the run dir, configured from the same
``deploy/nginx.conf`` template as the compose file), ``movierec indexer`` and the Streamlit UI talking to Nginx.

Prometheus metrics: each backend serves ``/metrics`` on its own port, summing its gunicorn workers (multiprocess mode:
``PROMETHEUS_MULTIPROC_DIR`` is a directory per backend under the run dir, emptied at every start by the hooks of
``movierec.gunicorn_conf``); the indexer and the trainer serve theirs on the two metrics ports. Nginx does not pass
``/metrics`` on: through it a scrape would reach either backend at random, and the figures are for operators only.

Every child runs in its own session so that it and its workers are signalled as one group. Children that die
are restarted (a few times, like compose's ``restart: unless-stopped``); SIGTERM or Ctrl-C stops them in the
reverse order of their start: UI, Nginx, backends, indexer.
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

import movierec
from movierec.files import write_private
from movierec.log import get_logger
from movierec.probes import http_ok, port_free, tcp_reachable
from movierec.processes import with_parent_death_signal
from movierec.settings import Settings, load_settings

log = get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = REPO_ROOT / "deploy" / "nginx.conf"
SERVICES_SCRIPT = REPO_ROOT / "scripts" / "services"
UI_APP = Path(movierec.__file__).parent / "ui" / "app.py"
DEFAULT_NGINX = "/usr/sbin/nginx"
SEED_CHOICES = ("auto", "movielens", "imdb", "tmdb", "none")

# The services `scripts/services start` runs on loopback (see docs/SERVICES.md): used for every URL the environment
# leaves unset. Their ports are written in scripts/services only; `scripts/services env` prints their URLs.
SERVICE_OF = {
    # settings field: (scripts/services name, its variable in `scripts/services env`, the protocol's default port)
    "database_url": ("postgres", "TEST_DATABASE_URL", 5432),
    "redis_url": ("redis", "TEST_REDIS_URL", 6379),
    "kafka_bootstrap_servers": ("kafka", "TEST_KAFKA_BOOTSTRAP_SERVERS", 9092),
    "elasticsearch_url": ("elasticsearch", "TEST_ELASTICSEARCH_URL", 9200),
}


@functools.cache
def services_env() -> dict[str, str]:
    """The variables `scripts/services env` prints (``TEST_DATABASE_URL``, ...): the one source of the local ports."""
    done = subprocess.run(
        ["bash", str(SERVICES_SCRIPT), "env"], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        raise StackError(f"{SERVICES_SCRIPT} env failed ({done.returncode}): {done.stderr.strip()}")
    pairs = (line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


def local_services() -> dict[str, tuple[str, str, int]]:
    """settings field: (scripts/services name, local URL, default port) of each service."""
    urls = services_env()
    return {field: (name, urls[variable], port) for field, (name, variable, port) in SERVICE_OF.items()}


ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "elasticsearch_url": "ELASTICSEARCH_URL",
}
SECRET_ENV = ("SECRET_KEY", "TMDB_API_KEY")
METRICS_ENV = frozenset(
    {
        "PROMETHEUS_MULTIPROC_DIR",
        "MOVIEREC_METRICS_HOST",
        "MOVIEREC_INDEXER_METRICS_PORT",
        "MOVIEREC_TRAINER_METRICS_PORT",
    }
)

STARTUP_TIMEOUT = 120.0  # seconds for one child to become healthy
STOP_TIMEOUT = 25.0  # seconds for one child to exit after its stop signal, before SIGKILL
MAX_RESTARTS = 3
TRAIN_EVERY_SECONDS = 600


class StackError(RuntimeError):
    """The stack cannot start or went down; the message says why and where the log is."""


class _NotReady(Exception):
    pass


class _Interrupted(Exception):
    pass


@dataclass(frozen=True)
class StackOptions:
    nginx_port: int = 8080
    backend_ports: tuple[int, int] = (8001, 8002)
    ui_port: int = 8501
    ui: bool = True
    seed: str = "auto"
    run_dir: Path | None = None
    workers: int = 2
    threads: int = 4
    metrics_ports: tuple[int, int] = (9101, 9102)  # the indexer's and the trainer's /metrics
    start_services: bool = True
    nginx_binary: str = DEFAULT_NGINX

    def __post_init__(self) -> None:
        ports = [self.nginx_port, *self.backend_ports, *self.metrics_ports] + ([self.ui_port] if self.ui else [])
        if len(self.backend_ports) != 2:
            raise StackError("give exactly two backend ports, e.g. --backend-ports 8001,8002")
        if len(self.metrics_ports) != 2:
            raise StackError("give exactly two metrics ports (indexer, trainer), e.g. --metrics-ports 9101,9102")
        if len(set(ports)) != len(ports):
            raise StackError(f"the ports must all differ: {ports}")
        if any(not 1 <= p <= 65535 for p in ports):
            raise StackError(f"ports must be between 1 and 65535: {ports}")
        if self.seed not in SEED_CHOICES:
            raise StackError(f"--seed must be one of {', '.join(SEED_CHOICES)}")


# ---------------------------------------------------------------------------------------------- configuration


def stack_settings(new_secret: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> tuple[Settings, bool]:
    """Settings for the stack: the environment's, every unset service URL filled with the local service's, and a
    SECRET_KEY generated for this run when the environment has none (one the environment gives must be a real one:
    ConfigurationError otherwise). Returns (settings, secret_was_generated)."""
    from_environment = load_settings()
    overrides: dict[str, object] = {}
    generated = from_environment.secret_key is None or not from_environment.secret_key.get_secret_value()
    if generated:
        overrides["secret_key"] = new_secret()
    for name, (_, url, _) in local_services().items():
        if getattr(from_environment, name) is None:
            overrides[name] = url
    settings = load_settings(**overrides)
    _ = settings.signing_key  # refuses a placeholder SECRET_KEY before anything starts
    return settings, generated


def child_environment(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the API, indexer and one-shot commands: the same Settings in every process."""
    if settings.secret_key is None:
        raise StackError("the stack needs a SECRET_KEY shared by both backends")
    env = {key: value for key, value in base.items() if key not in METRICS_ENV}  # set per child below
    env.update({ENV_NAMES[name]: str(getattr(settings, name)) for name in SERVICE_OF})
    env.update(
        SECRET_KEY=settings.secret_key.get_secret_value(),
        MOVIEREC_DATA_DIR=str(settings.data_dir),
        MOVIEREC_KAFKA_TOPIC=settings.kafka_topic,
        MOVIEREC_KAFKA_DLQ_TOPIC=settings.kafka_dlq_topic,
        MOVIEREC_KAFKA_GROUP=settings.kafka_group,
        MOVIEREC_SEARCH_INDEX=settings.search_index,
        MOVIEREC_TRUSTED_PROXIES="1",  # the backends sit behind Nginx, which sets X-Forwarded-For
        PYTHONUNBUFFERED="1",
    )
    return env


def ui_environment(base: Mapping[str, str], api_url: str) -> dict[str, str]:
    """The UI knows only the API's URL: no service URL, no secret."""
    hidden = {*ENV_NAMES.values(), *SECRET_ENV}
    env = {key: value for key, value in base.items() if key not in hidden}
    env["MOVIEREC_API_URL"] = api_url
    return env


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` placeholders (and nothing else: Nginx's own ``$variables`` stay) like envsubst."""
    missing = sorted({name for name in _PLACEHOLDER.findall(template) if name not in values})
    if missing:
        raise StackError(f"the Nginx template needs values for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def render_nginx_site(template: str, backends: Sequence[str], port: int) -> str:
    """The http-level part of the Nginx config (``deploy/nginx.conf``) for these backends (host:port) and port."""
    return render_template(template, {"BACKEND1": backends[0], "BACKEND2": backends[1], "NGINX_PORT": str(port)})


def nginx_main_config(site: Path, run_dir: Path) -> str:
    """A main Nginx config that keeps every file Nginx writes under ``run_dir`` and includes the rendered site."""
    temp = run_dir / "nginx-temp"
    temp_dirs = "\n".join(
        f"    {kind}_temp_path {temp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # Nginx's workers must reach the temp dirs under the (private, 0700) data dir: started as root, they run as the
    # data dir's owner rather than as nobody.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    return f"""# written by movierec stack on every start
daemon off;
{user}worker_processes 2;
pid {run_dir / "nginx.pid"};
error_log {run_dir / "nginx-error.log"} warn;

events {{
    worker_connections 1024;
}}

http {{
    default_type application/octet-stream;
{temp_dirs}
    include {site};
}}
"""


def write_nginx_config(template_path: Path, run_dir: Path, backends: Sequence[str], port: int) -> Path:
    """Render the template into ``run_dir``; returns the main config to pass to ``nginx -c``."""
    try:
        template = template_path.read_text()
    except OSError as exc:
        raise StackError(f"cannot read the Nginx template {template_path}: {exc.strerror}") from None
    run_dir.mkdir(parents=True, exist_ok=True)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run_dir / "nginx-temp" / kind).mkdir(parents=True, exist_ok=True)
    site = run_dir / "nginx-movierec.conf"
    site.write_text(render_nginx_site(template, backends, port))
    main = run_dir / "nginx.conf"
    main.write_text(nginx_main_config(site, run_dir))
    return main


def nginx_command(binary: str, main_config: Path, run_dir: Path) -> list[str]:
    return [binary, "-p", f"{run_dir}/", "-e", str(run_dir / "nginx-error.log"), "-c", str(main_config)]


# ---------------------------------------------------------------------------------------------- probes


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------- children


@dataclass
class Child:
    """One long-running process of the stack, in its own session (process group)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    url: str | None = None
    health_url: str | None = None
    stdout_path: Path | None = None  # Nginx: the access log
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        files: list[IO[bytes]] = [self.log_path.open("ab")]
        if self.stdout_path is not None:
            files.append(self.stdout_path.open("ab"))
        try:
            self.process = subprocess.Popen(
                with_parent_death_signal(self.argv),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=files[-1],
                stderr=files[0],
                start_new_session=True,
            )
        finally:
            for handle in files:
                handle.close()
        log.info("stack.started", child=self.name, pid=self.process.pid)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal_group(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("stack.stop_timeout", child=self.name, pid=self.process.pid, seconds=timeout)
                self._signal_group(signal.SIGKILL)
                self.process.wait(10)
        self._signal_group(signal.SIGKILL)  # workers the leader left behind, if any
        log.info("stack.stopped", child=self.name, returncode=self.process.returncode)
        return self.process.returncode


@dataclass
class Stack:
    """Starts, supervises and stops the local full stack."""

    settings: Settings
    options: StackOptions
    report: Callable[[str], None] = lambda _line: None
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    children: list[Child] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = self.options.run_dir or self.settings.data_dir / "stack"
        self.env = child_environment(self.settings, self.base_env)
        self._stop = threading.Event()

    # ------------------------------------------------------------------ public

    @property
    def nginx_url(self) -> str:
        return f"http://127.0.0.1:{self.options.nginx_port}"

    @property
    def access_log(self) -> Path:
        return self.run_dir / "nginx-access.log"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    @property
    def metrics_urls(self) -> dict[str, str]:
        """Where Prometheus scrapes each part (never through Nginx)."""
        backends = {
            f"backend{number}": f"http://127.0.0.1:{port}/metrics"
            for number, port in enumerate(self.options.backend_ports, start=1)
        }
        indexer, trainer = self.options.metrics_ports
        return {
            **backends,
            "indexer": f"http://127.0.0.1:{indexer}/metrics",
            "trainer": f"http://127.0.0.1:{trainer}/metrics",
        }

    def _metrics_env(self, variable: str, port: int) -> dict[str, str]:
        return {**self.env, "MOVIEREC_METRICS_HOST": "127.0.0.1", variable: str(port)}

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info("stack.signal", signal=signal.Signals(signum).name)
        self._stop.set()

    def run(self) -> int:
        """Start everything, supervise until SIGTERM/SIGINT, stop everything. Returns the exit code."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            self.supervise()
            return 0
        except _Interrupted:
            return 0
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.unlink(missing_ok=True)
        self._check_prerequisites()
        self._step("services", self._ensure_services)
        self._step("migrate", lambda: self._one_shot("migrate", ["migrate"], timeout=300))
        self._step("first-start", self._first_start)
        self._step("indexer", self._start_indexer)
        self._step("trainer", self._start_trainer)
        self._step("backends", self._start_backends)
        self._step("nginx", self._start_nginx)
        if self.options.ui:
            self._step("ui", self._start_ui)
        self._write_state()
        ui = next((c for c in self.children if c.name == "ui"), None)
        self.report(f"movierec stack is up: API (through Nginx) {self.nginx_url}")
        if ui is not None:
            self.report(f"  UI       {ui.url}")
        for child in self.children:
            if child.name.startswith("backend"):
                self.report(f"  {child.name} {child.url}")
        self.report("  metrics  " + "  ".join(f"{name} {url}" for name, url in self.metrics_urls.items()))
        self.report(f"  Nginx access log {self.access_log}")
        self.report(f"  logs and pids in {self.run_dir}; Ctrl-C stops everything")

    def supervise(self, poll_seconds: float = 0.5) -> None:
        while not self._stop.wait(poll_seconds):
            for child in self.children:
                if child.running() or self._stop.is_set():
                    continue
                code = child.process.returncode if child.process is not None else None
                if child.restarts >= MAX_RESTARTS:
                    raise StackError(
                        f"{child.name} exited ({code}) after {child.restarts} restarts; see {child.log_path}"
                    )
                child.restarts += 1
                log.warning("stack.child_exited", child=child.name, returncode=code, restart=child.restarts)
                self.report(f"{child.name} exited ({code}); restarting ({child.restarts}/{MAX_RESTARTS})")
                child.start()
                self._write_state()

    def stop(self) -> None:
        """Stop every child, the last started first."""
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        self.state_file.unlink(missing_ok=True)

    # ------------------------------------------------------------------ steps

    def _step(self, name: str, action: Callable[[], None]) -> None:
        if self._stop.is_set():
            raise _Interrupted
        started = time.perf_counter()
        action()
        self.timings[name] = round(time.perf_counter() - started, 2)
        log.info("stack.step", step=name, seconds=self.timings[name])

    def _check_prerequisites(self) -> None:
        options = self.options
        if not Path(options.nginx_binary).is_file():
            raise StackError(
                f"Nginx is not installed at {options.nginx_binary} (scripts/services install nginx, "
                "or apt-get install nginx)"
            )
        if not NGINX_TEMPLATE.is_file():
            raise StackError(f"the Nginx template {NGINX_TEMPLATE} is missing (run from a source checkout)")
        ports = {
            "Nginx": options.nginx_port,
            "backend1": options.backend_ports[0],
            "backend2": options.backend_ports[1],
            "indexer metrics": options.metrics_ports[0],
            "trainer metrics": options.metrics_ports[1],
        }
        if options.ui and UI_APP.exists():
            ports["UI"] = options.ui_port
        busy = [f"{name} port {port}" for name, port in ports.items() if not port_free(port)]
        if busy:
            raise StackError(f"already in use on 127.0.0.1: {', '.join(busy)}; choose other ports")
        if options.seed == "tmdb" and not self.settings.tmdb_api_key:
            raise StackError("--seed tmdb needs TMDB_API_KEY (a v3 API key or a v4 read access token)")

    def _ensure_services(self) -> None:
        down = {
            name: str(getattr(self.settings, name))
            for name, (_, _, default_port) in local_services().items()
            if not tcp_reachable(str(getattr(self.settings, name)), default_port)
        }
        if not down:
            return
        services = local_services()
        local = [services[name][0] for name, url in down.items() if url == services[name][1]]
        if self.options.start_services and SERVICES_SCRIPT.is_file() and len(local) == len(down):
            self.report(f"starting {' '.join(local)} with scripts/services (the first time installs them)")
            self._run([str(SERVICES_SCRIPT), "start", *local], self.run_dir / "services.log", timeout=1800)
            return
        listing = ", ".join(f"{ENV_NAMES[name]}={redact(url)}" for name, url in down.items())
        raise StackError(
            f"not reachable: {listing}. Start them (scripts/services start) or point the variables at running servers"
        )

    def _first_start(self) -> None:
        """The catalogue, then the models (``movierec first-start``, as ``movierec up`` does; no demo ratings)."""
        seed = self.options.seed
        if seed == "tmdb":  # needs the network and a key: the seeder's own command, then the rest of the first start
            self.report(f"seeding the TMDB catalogue (log: {self.run_dir / 'seed.log'})")
            self._one_shot("seed", ["seed", "tmdb"], timeout=3600)
            seed = "none"
        self.report(f"first start: catalogue {seed}, models if none (log: {self.run_dir / 'first-start.log'})")
        self._one_shot("first-start", ["first-start", "--seed", seed, "--no-demo-ratings"], timeout=3600)

    def _start_indexer(self) -> None:
        url = self.metrics_urls["indexer"]
        env = self._metrics_env("MOVIEREC_INDEXER_METRICS_PORT", self.options.metrics_ports[0])
        command = [sys.executable, "-m", "movierec", "indexer"]
        child = Child("indexer", command, env, self.run_dir / "indexer.log", url=url, health_url=url)
        self._launch(child)
        # Its only HTTP port is /metrics, served from the start: it answers once the process is up.
        self._wait_http(child)

    def _start_trainer(self) -> None:
        """Retrains the models as ratings accumulate; the backends pick up each new generation."""
        url = self.metrics_urls["trainer"]
        env = self._metrics_env("MOVIEREC_TRAINER_METRICS_PORT", self.options.metrics_ports[1])
        command = [sys.executable, "-m", "movierec", "train", "--every", str(TRAIN_EVERY_SECONDS)]
        child = Child("trainer", command, env, self.run_dir / "trainer.log", url=url, health_url=url)
        self._launch(child)
        self._wait_http(child)

    def _start_backends(self) -> None:
        started = []
        for number, port in enumerate(self.options.backend_ports, start=1):
            # One multiprocess directory per backend: a scrape of a backend sums its own workers, not the other's.
            metrics_dir = self.run_dir / "metrics" / f"backend{number}"
            metrics_dir.mkdir(parents=True, exist_ok=True)
            child = Child(
                f"backend{number}",
                self._gunicorn_command(port),
                {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
                self.run_dir / f"backend{number}.log",
                url=f"http://127.0.0.1:{port}",
                health_url=f"http://127.0.0.1:{port}/healthz",
            )
            self._launch(child)
            started.append(child)
        for child in started:
            self._wait_http(child)

    def _gunicorn_command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{port}",
            "--worker-class", "gthread", "--workers", str(self.options.workers), "--threads", str(self.options.threads),
            "--timeout", "60", "--graceful-timeout", "20",
            "--keep-alive", "75",  # longer than Nginx's upstream keepalive_timeout, so Nginx closes idle ones first
            "--no-control-socket",
            "--config", "python:movierec.gunicorn_conf",  # Prometheus multiprocess hooks
            "movierec.api:create_app()",
        ]  # fmt: skip

    def _start_nginx(self) -> None:
        backends = [f"127.0.0.1:{port}" for port in self.options.backend_ports]
        main = write_nginx_config(NGINX_TEMPLATE, self.run_dir, backends, self.options.nginx_port)
        command = nginx_command(self.options.nginx_binary, main, self.run_dir)
        check = subprocess.run([*command, "-t", "-q"], capture_output=True, timeout=30, check=False)
        if check.returncode != 0:
            raise StackError(f"nginx -t rejected {main}: {check.stderr.decode(errors='replace').strip()}")
        child = Child(
            "nginx",
            command,
            dict(self.base_env),
            self.run_dir / "nginx-stderr.log",
            url=self.nginx_url,
            health_url=f"{self.nginx_url}/healthz",  # through to a backend
            stdout_path=self.access_log,
            stop_signal=signal.SIGQUIT,  # graceful: finish the requests in flight
        )
        self._launch(child)
        self._wait_http(child)

    def _start_ui(self) -> None:
        if not UI_APP.exists():
            self.report("the Streamlit UI is not part of this installation; starting without it")
            return
        from movierec.ui import server as ui_server

        port = self.options.ui_port
        child = Child(
            "ui",
            ui_server.command(port),
            ui_environment(self.base_env, self.nginx_url),
            self.run_dir / "ui.log",
            url=f"http://127.0.0.1:{port}",
            health_url=f"http://127.0.0.1:{port}/_stcore/health",
        )
        self._launch(child)
        self._wait_http(child)

    # ------------------------------------------------------------------ helpers

    def _launch(self, child: Child) -> None:
        self.children.append(child)
        child.start()

    def _wait(
        self, child: Child, ready: Callable[[], bool], timeout: float = STARTUP_TIMEOUT, settle: float = 0
    ) -> None:
        def check() -> None:
            if self._stop.is_set():
                raise _Interrupted
            if not child.running():
                code = child.process.returncode if child.process is not None else None
                raise StackError(
                    f"{child.name} exited ({code}) while starting; see {child.log_path}:\n{_tail(child.log_path)}"
                )
            if not ready():
                raise _NotReady(child.name)

        if settle:
            self._stop.wait(settle)
        try:
            for attempt in Retrying(
                stop=stop_after_delay(timeout),
                wait=wait_fixed(0.25),
                retry=retry_if_exception_type(_NotReady),
                reraise=True,
            ):
                with attempt:
                    check()
        except _NotReady:
            raise StackError(f"{child.name} not healthy after {timeout:.0f} s; see {child.log_path}") from None

    def _wait_http(self, child: Child) -> None:
        url = child.health_url or f"{child.url}/"
        self._wait(child, lambda: http_ok(url))

    def _one_shot(self, name: str, args: list[str], timeout: float) -> None:
        self._run([sys.executable, "-m", "movierec", *args], self.run_dir / f"{name}.log", timeout)

    def _run(self, argv: list[str], log_path: Path, timeout: float) -> None:
        """Run a command to completion (its output to ``log_path``); a stop request ends it."""
        with log_path.open("ab") as output:
            process = subprocess.Popen(
                with_parent_death_signal(argv), env=self.env, stdin=subprocess.DEVNULL, stdout=output, stderr=output
            )
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    code = process.wait(0.5)
                    break
                except subprocess.TimeoutExpired:
                    if self._stop.is_set():
                        raise _Interrupted from None
                    if time.monotonic() > deadline:
                        raise StackError(f"{' '.join(argv[-2:])} did not finish in {timeout:.0f} s") from None
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        if code != 0:
            raise StackError(f"{' '.join(argv[1:])} failed ({code}); see {log_path}:\n{_tail(log_path)}")

    def _write_state(self) -> None:
        state = {
            "nginx_url": self.nginx_url,
            "access_log": str(self.access_log),
            "children": {
                child.name: {"pid": child.pid, "url": child.url, "log": str(child.log_path)} for child in self.children
            },
        }
        write_private(self.state_file, json.dumps(state, indent=2))
