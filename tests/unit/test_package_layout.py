"""What the product runs is in the package; development tools and the evaluation's peer are not needed by it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "movierec"

# Run with `implicit` and `movierec_tools` made unimportable: the API, the indexer's wiring and the trainer must not
# need them.
WITHOUT_EXTRAS = """
import importlib.abc, sys, tempfile
from pathlib import Path

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"implicit", "movierec_tools"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
from movierec.api import create_app
from movierec.services.models import train
from movierec.settings import load_settings
from movierec.wiring import build_container
import movierec.cli, movierec.healthcheck, movierec.runtime

settings = load_settings(data_dir=Path(tempfile.mkdtemp()) / "data")
container = build_container(settings, run_migrations=True)
create_app(container=container)
train(container.store, settings.models_dir)
container.close()
print("ran without the extras")
"""


def test_the_product_runs_without_implicit_and_the_tools() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "ran without the extras" in done.stdout


def test_only_the_cli_stack_command_imports_the_tools_and_only_the_evaluation_imports_implicit() -> None:
    importers: dict[str, set[str]] = {"movierec_tools": set(), "implicit": set()}
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        for name in importers:
            if re.search(rf"^\s*(from|import) {name}\b", text, re.M):
                importers[name].add(path.relative_to(SRC).as_posix())
    assert importers == {"movierec_tools": {"cli.py"}, "implicit": {"evaluation_peers.py"}}


def test_the_tool_commands_say_how_to_get_the_tools_when_they_are_missing() -> None:
    script = WITHOUT_EXTRAS.split("from movierec.api import create_app")[0] + (
        "from click.testing import CliRunner\n"
        "from movierec.cli import main\n"
        "for args in (['stack', '--no-ui'], ['bench', '--quick']):\n"
        "    result = CliRunner().invoke(main, args)\n"
        "    print(result.exit_code, result.output.strip())\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, command in zip(lines, ("movierec stack", "movierec bench"), strict=True):
        assert line.startswith("1 ") and f"{command} is a development tool" in line and "pip install" in line
