"""Load about 10,000 popular movies from TMDB: ``python seed_tmdb.py [--pages N] [--start-page P] [--base-url URL]``.

The same as ``movierec seed tmdb``; needs ``TMDB_API_KEY`` (a v3 API key or a v4 read access token).
"""

from __future__ import annotations

import sys

from movierec.cli import main

if __name__ == "__main__":
    main(["seed", "tmdb", *sys.argv[1:]], prog_name="seed_tmdb.py")
