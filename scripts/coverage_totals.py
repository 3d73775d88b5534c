#!/usr/bin/env python
"""
Line and branch coverage, each on its own, from a JSON report on standard input:

    .venv/bin/coverage json --quiet -o - | .venv/bin/python scripts/coverage_totals.py

With branch coverage on, `coverage report`'s Cover column combines lines and branches
into one figure; `make coverage` (and so `.ci/run`) prints this line after it.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    totals = json.load(sys.stdin)["totals"]
    print(
        f"line coverage {totals['percent_statements_covered_display']}% "
        f"({totals['covered_lines']} of {totals['num_statements']} lines), "
        f"branch coverage {totals['percent_branches_covered_display']}% "
        f"({totals['covered_branches']} of {totals['num_branches']} branches), "
        f"combined {totals['percent_covered_display']}%"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
