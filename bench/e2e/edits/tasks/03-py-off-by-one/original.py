"""Summary statistics for per-request latency samples.

The load generator records one sample per completed request (milliseconds).
These helpers turn the raw samples into the numbers printed at the end of a
benchmark run and written to the JSON report.
"""

import math
from collections import Counter
from typing import Dict, List, Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile; pct is in [0, 100]."""
    if not values:
        raise ValueError("percentile of empty sequence")
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"pct out of range: {pct}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    if lo == hi:
        return ordered[lo]
    frac = rank - lo
    return ordered[lo] * (1.0 - frac) + ordered[hi] * frac


def rolling_mean(values: Sequence[float], window: int) -> List[float]:
    """Mean of every contiguous window of `window` samples, in order.

    A sequence of n samples yields n - window + 1 means.
    """
    if window <= 0:
        raise ValueError("window must be positive")
    if len(values) < window:
        return []
    means = []
    for end in range(window, len(values)):
        chunk = values[end - window:end]
        means.append(sum(chunk) / window)
    return means


def histogram(values: Sequence[float], bucket_ms: float) -> Dict[float, int]:
    """Count samples per fixed-width bucket, keyed by the bucket's lower edge."""
    if bucket_ms <= 0:
        raise ValueError("bucket_ms must be positive")
    counts: Counter = Counter()
    for v in values:
        counts[math.floor(v / bucket_ms) * bucket_ms] += 1
    return dict(sorted(counts.items()))


def stddev(values: Sequence[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return math.sqrt(var)


def summarize(values: Sequence[float]) -> Dict[str, float]:
    """The fixed set of numbers reported for every benchmark run."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "min": min(values),
        "max": max(values),
        "mean": sum(values) / len(values),
        "stddev": stddev(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
    }


def format_summary(summary: Dict[str, float]) -> str:
    if summary.get("count", 0) == 0:
        return "no samples"
    parts = [f"n={summary['count']}"]
    for key in ("mean", "p50", "p90", "p99", "max"):
        parts.append(f"{key}={summary[key]:.1f}ms")
    return " ".join(parts)
