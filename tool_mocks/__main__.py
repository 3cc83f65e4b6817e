"""``python -m tool_mocks``: run the mock tool server (same as ``ste-async serve-tools``)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
