"""What the two Python client flows (python/flow.py, openapi-generator/flow.py) share: the
fixtures, the mismatch they stop on, the environment they read, the stats they expect and the
way they end. Only the calls into each generated client differ between them.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


class Mismatch(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Mismatch(message)


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise Mismatch(f"{name} is not set")
    return value


def expected_stats(article_id: str, ratings: list[int | None]) -> dict[str, Any]:
    """The stats of published reviews with these ratings (`None`: a review without stars)."""
    rated = [rating for rating in ratings if rating is not None]
    counts = Counter(rated)
    return {
        "article_id": article_id,
        "review_count": len(ratings),
        "rated_count": len(rated),
        "average": round(sum(rated) / len(rated), 2) if rated else None,
        "histogram": {str(rating): counts[rating] for rating in range(1, 6)},
    }


def check_stats_fields(
    where: str,
    article_id: str,
    counts: tuple[int, int],
    average: float | None,
    histogram: list[int],
    expected: dict[str, Any],
) -> None:
    """An article's stats as a client parsed them (`review_count` and `rated_count`, the
    histogram's five counts in rating order), against `expected_stats`; the averages compared to
    within rounding."""
    review_count, rated_count = counts
    got = {
        "article_id": article_id,
        "review_count": review_count,
        "rated_count": rated_count,
        "average": average,
        "histogram": {str(rating): count for rating, count in zip(range(1, 6), histogram)},
    }
    same_average = (
        got["average"] == expected["average"]
        if got["average"] is None or expected["average"] is None
        else abs(got["average"] - expected["average"]) < 1e-9
    )
    check(
        same_average and {**got, "average": None} == {**expected, "average": None},
        f"{where}: got {got}, expected {expected}",
    )


def run(name: str, main: Callable[[], None]) -> None:
    """Runs a flow: a mismatch or any error exits 1 with a message naming the client."""
    try:
        main()
    except Mismatch as mismatch:
        fail(name, str(mismatch))
    except Exception as error:
        traceback.print_exc()
        fail(name, f"{type(error).__name__}: {error} (traceback above)")


def fail(name: str, message: str) -> NoReturn:
    print(f"{name}: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)
