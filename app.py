"""Serve the copilot: `python app.py` (same as `copilot serve`). Settings come from COPILOT_* env."""

import sys

from copilot.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
