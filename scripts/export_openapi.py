"""Write openapi/openapi.json from the app (`--check` compares instead)."""

import sys

from podium.openapi import main

if __name__ == "__main__":
    sys.exit(main())
