// One WebSocket to /v1/responses (the Responses API's WebSocket mode) that
// reconnects when it drops, with a growing delay. The server parks a closed
// connection's session under its prompt_cache_key, so a reconnect finds the
// conversation and its KV cache again.

function randomId() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class Channel {
  // onEvent(event) gets each server event; key() is the API key to offer
  // (or ''); probe() says why a connection was refused: 'key' (wait for a
  // key) or anything else (try again).
  constructor(name, onEvent, {key, probe}) {
    this.name = name;
    this.onEvent = onEvent;
    this.key = key;
    this.probe = probe;
    this.onState = () => {};
    this.onDrop = () => {};
    // Names the server-side session: after a reconnect the server hands the
    // same KV cache and responses back (prompt_cache_key).
    this.cacheKey = `playground-${name}-${randomId()}`;
    this.ws = null;
    this.state = 'idle';
    this.attempt = 0;
    this.timer = null;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  setState(state, detail = '') {
    this.state = state;
    this.detail = detail;
    this.onState(state, detail);
  }

  connect() {
    clearTimeout(this.timer);
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      old.close();
      this.onDrop();
    }
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/responses`;
    // A browser cannot send Authorization on a WebSocket: the key travels as
    // a subprotocol, and the server answers "glint" (docs/protocol.md).
    const protocols = ['glint'];
    if (this.key()) protocols.push(`glint-key.${this.key()}`);
    let ws;
    try {
      ws = new WebSocket(url, protocols);
    } catch (e) {
      this.setState('error', 'the API key has characters a WebSocket cannot carry');
      return;
    }
    this.ws = ws;
    this.opened = false;
    this.setState('connecting');
    ws.onopen = () => {
      this.opened = true;
      this.attempt = 0;
      this.setState('open');
    };
    ws.onmessage = (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch {
        return;
      }
      this.onEvent(ev);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;  // replaced on purpose
      this.ws = null;
      this.onDrop();
      if (!this.opened) {
        // Refused before it opened: a missing or wrong key (wait for one),
        // or no server (try again).
        this.probe().then((result) => {
          if (result !== 'key') this.retry();
        });
        return;
      }
      this.retry();
    };
  }

  retry() {
    const delay = Math.min(8000, 500 * 2 ** this.attempt);
    this.attempt++;
    this.setState('reconnecting', delay);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  send(event) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(event));
    return true;
  }
}
