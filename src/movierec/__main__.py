from __future__ import annotations

from movierec.cli import main

if __name__ == "__main__":
    main()
