"""A serving process freezes what it holds after its first model generation, once (services/models.py)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from movierec.services import models
assert gc.get_freeze_count() == 0
models._freeze_once()
frozen = gc.get_freeze_count()
assert frozen > 1000, frozen  # the imported modules' objects at least
models._freeze_once()
assert gc.get_freeze_count() == frozen, "a second generation freezes nothing more"
print(frozen)
"""


def test_the_first_generation_freezes_the_objects_alive_then_and_later_ones_freeze_nothing() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 1000
