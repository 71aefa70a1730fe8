#!/usr/bin/env node
// glintctl.mjs - tiny admin CLI for a running inference server.
//
//   glintctl list
//   glintctl load <model> [--gpu-layers N]
//   glintctl unload <model>
//   glintctl health

const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8081';
const REQUEST_TIMEOUT_MS = 15000;

class CliError extends Error {
  constructor(message, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

function adminUrl() {
  return process.env.GLINT_ADMIN_URL || DEFAULT_ADMIN_URL;
}

async function call(method, path, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(new URL(path, adminUrl()), {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal: controller.signal,
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : {};
    if (!res.ok) {
      throw new CliError(data.error?.message || `HTTP ${res.status}`);
    }
    return data;
  } finally {
    clearTimeout(timer);
  }
}

function requireName(args, command) {
  const name = args[0];
  if (!name || name.startsWith('--')) {
    throw new CliError(`usage: glintctl ${command} <model>`, 2);
  }
  return name;
}

async function cmdList() {
  const { models = [] } = await call('GET', '/admin/models');
  if (models.length === 0) {
    console.log('No models registered.');
    return;
  }
  for (const m of models) {
    const state = m.loaded ? 'loaded' : 'idle';
    console.log(`${m.name.padEnd(32)} ${state.padEnd(7)} ${m.size_mb} MiB`);
  }
}

async function cmdLoad(args) {
  const name = requireName(args, 'load');
  const body = { model: name };
  const i = args.indexOf('--gpu-layers');
  if (i !== -1) {
    const n = Number.parseInt(args[i + 1], 10);
    if (Number.isNaN(n) || n < 0) {
      throw new CliError('--gpu-layers expects a non-negative integer', 2);
    }
    body.gpu_layers = n;
  }
  const res = await call('POST', '/admin/load', body);
  console.log(`Model ${name} loaded in ${res.load_ms} ms.`);
}

async function cmdUnload(args) {
  const name = requireName(args, 'unload');
  await call('POST', '/admin/unload', { model: name });
  console.log(`Model ${name} unloaded.`);
}

async function cmdHealth() {
  const h = await call('GET', '/health');
  console.log(`status: ${h.status}`);
  console.log(`uptime: ${Math.round(h.uptime_s)} s`);
  console.log(`queue:  ${h.queue_depth}`);
}

const COMMANDS = {
  list: cmdList,
  load: cmdLoad,
  unload: cmdUnload,
  health: cmdHealth,
};

async function main(argv) {
  const [command, ...rest] = argv;
  const handler = COMMANDS[command];
  if (!handler) {
    throw new CliError(
      `unknown command '${command ?? ''}'; expected one of: ${Object.keys(COMMANDS).join(', ')}`,
      2);
  }
  await handler(rest);
}

main(process.argv.slice(2)).catch((err) => {
  if (err.name === 'AbortError') {
    console.error(`error: admin API did not answer within ${REQUEST_TIMEOUT_MS} ms`);
    process.exit(1);
  }
  console.error(`error: ${err.message}`);
  process.exit(err instanceof CliError ? err.exitCode : 1);
});
