"""Closed-loop throughput benchmark against a running server.

Spawns N concurrent clients, each sending completion requests back to back,
and reports tokens/second plus latency percentiles.
"""

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import requests

from .prompts import load_prompts
from .report import write_report


@dataclass
class Result:
    ok: bool
    latency_s: float
    completion_tokens: int
    error: Optional[str] = None


def send_one(url: str, prompt: str, max_tokens: int, timeout: float) -> Result:
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0}
    start = time.perf_counter()
    try:
        resp = requests.post(f"{url}/v1/completions", json=body, timeout=timeout)
        elapsed = time.perf_counter() - start
        if resp.status_code != 200:
            return Result(False, elapsed, 0, f"HTTP {resp.status_code}")
        usage = resp.json().get("usage", {})
        return Result(True, elapsed, int(usage.get("completion_tokens", 0)))
    except requests.RequestException as exc:
        return Result(False, time.perf_counter() - start, 0, str(exc))


def client_loop(url: str, prompts: List[str], max_tokens: int,
                deadline: float, timeout: float) -> List[Result]:
    results = []
    i = 0
    while time.perf_counter() < deadline:
        results.append(send_one(url, prompts[i % len(prompts)], max_tokens,
                                timeout))
        i += 1
    return results


def aggregate(results: List[Result], wall_s: float) -> Dict[str, float]:
    ok = [r for r in results if r.ok]
    lat = np.array([r.latency_s for r in ok]) if ok else np.zeros(1)
    tokens = sum(r.completion_tokens for r in ok)
    return {
        "requests": len(results),
        "errors": len(results) - len(ok),
        "tokens_per_s": tokens / wall_s if wall_s > 0 else 0.0,
        "lat_mean_s": statistics.fmean(lat.tolist()),
        "lat_p50_s": float(np.percentile(lat, 50)),
        "lat_p99_s": float(np.percentile(lat, 99)),
    }


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", default=os.environ.get("GLINT_URL",
                                                    "http://127.0.0.1:8080"))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--prompts", default="prompts/short.jsonl")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)

    prompts = load_prompts(args.prompts)
    start = time.perf_counter()
    deadline = start + args.duration
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        futures = [pool.submit(client_loop, args.url, prompts, args.max_tokens,
                               deadline, args.timeout)
                   for _ in range(args.clients)]
        results = [r for f in futures for r in f.result()]
    wall = time.perf_counter() - start

    summary = aggregate(results, wall)
    print(json.dumps(summary, indent=2))
    if args.out:
        write_report(args.out, summary)
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
