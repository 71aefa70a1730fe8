'use strict';

// access_log_report.js - summarize the server's JSON-lines access log.
//
// Each line is one finished request:
//   {"ts": 1712345678.1, "route": "/v1/completions", "status": 200,
//    "prompt_tokens": 412, "completion_tokens": 96, "latency_ms": 830}
//
// Usage: node access_log_report.js access.log [--route /v1/chat/completions]

const fs = require('node:fs');
const readline = require('node:readline');

function newBucket() {
  return {
    requests: 0,
    errors: 0,
    promptTokens: 0,
    completionTokens: 0,
    latencies: [],
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length));
  return sorted[idx];
}

async function readEntries(path) {
  const rl = readline.createInterface({
    input: fs.createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  const entries = [];
  let lineNo = 0;
  for await (const line of rl) {
    lineNo += 1;
    if (!line.trim()) continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch (err) {
      console.warn(`skipping malformed line ${lineNo}: ${err.message}`);
      continue;
    }
    entries.push(entry);
  }
  return entries;
}

function summarize(entries, routeFilter) {
  const byRoute = new Map();
  for (const e of entries) {
    if (routeFilter && e.route !== routeFilter) continue;
    if (!byRoute.has(e.route)) byRoute.set(e.route, newBucket());
    const b = byRoute.get(e.route);
    b.requests += 1;
    if (e.status >= 400) {
      b.errors += 1;
      continue;
    }
    b.promptTokens += e.prompt_tokens || 0;
    b.completionTokens += e.completion_tokens || 0;
    b.latencies.push(e.latency_ms);
  }
  return byRoute;
}

function formatRow(route, b) {
  const sorted = b.latencies.slice().sort((x, y) => x - y);
  const errPct = b.requests ? (100 * b.errors) / b.requests : 0;
  return [
    route.padEnd(24),
    String(b.requests).padStart(8),
    `${errPct.toFixed(1)}%`.padStart(7),
    String(b.promptTokens).padStart(10),
    String(b.completionTokens).padStart(10),
    String(percentile(sorted, 50)).padStart(8),
    String(percentile(sorted, 99)).padStart(8),
  ].join(' ');
}

function parseArgs(argv) {
  const args = { path: null, route: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--route') {
      args.route = argv[++i];
    } else if (!args.path) {
      args.path = argv[i];
    }
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!args.path) {
    console.error('usage: access_log_report.js FILE [--route ROUTE]');
    process.exit(2);
  }
  const entries = await readEntries(args.path);
  const byRoute = summarize(entries, args.route);
  console.log(
    'route'.padEnd(24), 'requests'.padStart(8), 'errors'.padStart(7),
    'prompt'.padStart(10), 'output'.padStart(10), 'p50ms'.padStart(8),
    'p99ms'.padStart(8));
  for (const [route, bucket] of [...byRoute].sort()) {
    console.log(formatRow(route, bucket));
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = { readEntries, summarize, percentile };
