"""Bounce classification against the corpus in tests/responses/bounce_corpus/.

Prints the figures tests/responses/test_bounce_corpus.py asserts (share of bounces read as
bounces, of failed addresses found, of permanent/temporary read right; bounces taken for a reply;
mail taken for a bounce), then, with --misses, what was read wrong file by file. The counting is
the test module's `measure`, so the two cannot drift apart.
Run: `python bench/bounce_corpus.py [--misses]`.
"""

from __future__ import annotations

import argparse
import sys

from app.config import PROJECT_ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--misses", action="store_true", help="list what was read wrong")
    args = parser.parse_args()
    sys.path.insert(0, str(PROJECT_ROOT))  # the tests package is not installed
    from tests.responses.test_bounce_corpus import measure

    figures = measure()
    print("\n".join(figures.lines()))
    for name in figures.bounces_read_as_responses + figures.non_bounces_read_as_bounces:
        print(f"  misclassified: {name}")
    if args.misses:
        print("\n".join(f"  {line}" for line in figures.misses))


if __name__ == "__main__":
    main()
