// sse_client.js - minimal client for the streaming completions endpoint.
//
// The server streams `data: {...}` events terminated by a blank line and ends
// the stream with `data: [DONE]`. This module turns the raw byte stream into
// parsed JSON chunks and exposes an async iterator over generated text.

import { request } from 'node:http';
import { URL } from 'node:url';

const DONE_SENTINEL = '[DONE]';

/**
 * Parse a single SSE event block (the lines between two blank lines).
 * Returns { event, data } or null when the block only holds comments.
 */
export function parseBlock(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  return { event, data: data.join('\n') };
}

/**
 * Accumulates decoded text and yields complete events. Each complete block
 * is handed to parseBlock; an unterminated tail stays buffered.
 */
export class EventBuffer {
  constructor() {
    this.buf = '';
  }

  push(text) {
    this.buf += text.replace(/\r\n/g, '\n');
    const events = [];
    let idx;
    while ((idx = this.buf.indexOf('\n\n')) !== -1) {
      const block = this.buf.slice(0, idx);
      this.buf = this.buf.slice(idx + 2);
      const ev = parseBlock(block);
      if (ev) events.push(ev);
    }
    return events;
  }

  flush() {
    const rest = this.buf;
    this.buf = '';
    const ev = rest ? parseBlock(rest) : null;
    return ev ? [ev] : [];
  }
}

function openStream(baseUrl, body) {
  const url = new URL('/v1/completions', baseUrl);
  const payload = JSON.stringify({ ...body, stream: true });
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        accept: 'text/event-stream',
      },
    }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`server returned HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      resolve(res);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Stream generated text pieces for `prompt`.
 * Usage: for await (const piece of streamCompletion(url, { prompt })) ...
 */
export async function* streamCompletion(baseUrl, body) {
  const res = await openStream(baseUrl, body);
  const buffer = new EventBuffer();
  for await (const chunk of res) {
    for (const ev of buffer.push(chunk)) {
      if (ev.data === DONE_SENTINEL) return;
      const parsed = JSON.parse(ev.data);
      const text = parsed.choices?.[0]?.text ?? '';
      if (text) yield text;
    }
  }
  for (const ev of buffer.flush()) {
    if (ev.data !== DONE_SENTINEL) {
      const parsed = JSON.parse(ev.data);
      const text = parsed.choices?.[0]?.text ?? '';
      if (text) yield text;
    }
  }
}

export async function completeToString(baseUrl, body) {
  let out = '';
  for await (const piece of streamCompletion(baseUrl, body)) {
    out += piece;
  }
  return out;
}
