// glint playground: a conversation over one persistent WebSocket to
// /v1/responses (the Responses API's WebSocket mode, docs/protocol.md) and a
// code pane whose edits stream as predicted outputs and end in a diff.
// Plain ES modules, no dependencies; model text only ever reaches the page
// through textContent.
import {Channel} from './channel.js';
import {diffLines, hunks} from './diff.js';
import {renderMarkdown} from './markdown.js';

const $ = (id) => document.getElementById(id);

const kChatInstructions =
    'You are glint, a concise coding assistant. Answer briefly and put code in fenced code blocks.';
// The same prompt as `glint edit` (src/client/edit.cc). The Responses API has
// no assistant prefill, so the reply's opening fence is the model's own.
const kEditInstructions =
    "You are a precise code editor. Apply the user's instruction to the file and reply with " +
    'the complete updated file in one fenced code block, and nothing else. Change only what ' +
    'the instruction asks for; keep everything else exactly as it is, and add no comments ' +
    'about the change.';
const kTiers = ['fast', 'smart', 'auto'];

const settings = {
  tier: kTiers.includes(sessionStorage.getItem('glint.tier')) ? sessionStorage.getItem('glint.tier')
                                                              : 'fast',
  // The API key stays in this tab (sessionStorage), never in localStorage.
  key: sessionStorage.getItem('glint.key') || '',
  models: [],        // ids from /v1/models
  needsKey: false,
};

// ---------------------------------------------------------------------------
// Formatting

function fmtMs(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function fmtRate(r) {
  return r === null || r === undefined || !isFinite(r) || r <= 0 ? '—' : r.toFixed(1);
}

// A rough count for the progress line before the server has said anything:
// about four characters a token for English and code.
function estimateTokens(text) {
  return Math.max(1, Math.round(text.length / 4));
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function modelFor(tier) {
  return `glint-${tier}`;
}

// The model a request names: the tier's, or with `glint serve -m FILE`
// (no tiers) the one model served.
function requestModel() {
  const id = modelFor(settings.tier);
  return settings.models.length && !settings.models.includes(id) ? settings.models[0] : id;
}

// ---------------------------------------------------------------------------
// Connection state and the API key

const connectOptions = {key: () => settings.key, probe: () => probeServer()};
const chatChannel = new Channel('chat', (ev) => onChatEvent(ev), connectOptions);
const editChannel = new Channel('edit', (ev) => onEditEvent(ev), connectOptions);

function renderConnection() {
  const pill = $('conn');
  const text = $('conn-text');
  const s = chatChannel.state;
  let label;
  let kind;
  if (settings.needsKey) {
    label = settings.key ? 'API key refused' : 'API key needed';
    kind = 'bad';
  } else if (s === 'open') {
    label = 'connected';
    kind = 'ok';
  } else if (s === 'connecting') {
    label = 'connecting…';
    kind = 'wait';
  } else if (s === 'reconnecting') {
    label = `reconnecting in ${Math.round(chatChannel.detail / 100) / 10} s…`;
    kind = 'wait';
  } else if (s === 'error') {
    label = chatChannel.detail;
    kind = 'bad';
  } else {
    label = 'not connected';
    kind = 'wait';
  }
  pill.dataset.state = kind;
  text.textContent = label;
  updateControls();
}

// Asks /v1/models (which takes an Authorization header, unlike a WebSocket)
// whether the server is there and takes our key: 'ok', 'key' (a key is
// needed or was refused) or 'offline'.
async function probeServer() {
  const headers = settings.key ? {Authorization: `Bearer ${settings.key}`} : {};
  let r;
  try {
    r = await fetch('/v1/models', {headers, cache: 'no-store'});
  } catch {
    return 'offline';
  }
  if (r.status === 401) {
    settings.needsKey = true;
    $('key-panel').hidden = false;
    $('key-input').focus();
    renderConnection();
    return 'key';
  }
  settings.needsKey = false;
  if (r.ok) {
    const body = await r.json();
    settings.models = body.data.map((m) => m.id);
    const info = body.data.filter((m) => m.id !== 'glint-auto')
        .map((m) => `${m.id} (${m.context_length} ctx)`).join(' · ');
    $('server-info').textContent = info;
    for (const b of document.querySelectorAll('#tier button')) {
      b.disabled = !settings.models.includes(modelFor(b.dataset.tier));
    }
    if (!settings.models.includes(modelFor(settings.tier))) {
      const first = kTiers.find((t) => settings.models.includes(modelFor(t)));
      if (first) setTier(first);
    }
  }
  renderConnection();
  return 'ok';
}

async function start() {
  if (await probeServer() !== 'key') {
    chatChannel.connect();
    editChannel.connect();
  }
}

function saveKey(key) {
  settings.key = key.trim();
  if (settings.key) sessionStorage.setItem('glint.key', settings.key);
  else sessionStorage.removeItem('glint.key');
  $('key-input').value = settings.key;
  $('key-state').textContent = settings.key ? 'key set for this tab' : 'no key';
  $('key-button').textContent = settings.key ? 'API key (set)' : 'API key';
  start();
}

// ---------------------------------------------------------------------------
// Tier switch

function setTier(tier) {
  settings.tier = tier;
  sessionStorage.setItem('glint.tier', tier);
  for (const b of document.querySelectorAll('#tier button')) {
    const on = b.dataset.tier === tier;
    b.classList.toggle('selected', on);
    b.setAttribute('aria-checked', String(on));
  }
  if (tier !== 'auto') $('route').hidden = true;
}

// The auto decision of the latest turn, beside the switch.
function showRoute(routing) {
  const r = $('route');
  if (!routing) {
    r.hidden = true;
    return;
  }
  r.hidden = false;
  r.dataset.tier = routing.tier || '';
  r.textContent = `auto → ${routing.tier || routing.model}`;
  r.title = `${routing.rule}: ${routing.reason}`;
}

// ---------------------------------------------------------------------------
// Conversation

const chat = {
  history: [],      // finished turns as the server holds them: {role, content}
  lastId: null,     // the latest response: the next turn continues from it
  lastModel: null,  // the model that answered it
  turn: null,       // the turn being answered
};

// Tokens the server reads for the whole conversation plus text.
function conversationEstimate(text) {
  return estimateTokens(kChatInstructions) +
      chat.history.reduce((n, m) => n + estimateTokens(m.content) + 6, 0) +
      estimateTokens(text) + 12;
}

function maxTokens() {
  const n = parseInt($('max-tokens').value, 10);
  return Number.isFinite(n) && n > 0 ? n : 512;
}

function scrollMessages(force) {
  const box = $('messages');
  if (force || box.scrollHeight - box.scrollTop - box.clientHeight < 80) {
    box.scrollTop = box.scrollHeight;
  }
}

function codeActions(lang, code) {
  const copy = el('button', 'mini', 'Copy');
  copy.type = 'button';
  copy.addEventListener('click', () => {
    navigator.clipboard?.writeText(code).then(() => {
      copy.textContent = 'Copied';
      setTimeout(() => { copy.textContent = 'Copy'; }, 1200);
    }, () => {});
  });
  const open = el('button', 'mini', 'Open in code pane');
  open.type = 'button';
  open.addEventListener('click', () => {
    setCode(code.endsWith('\n') ? code : code + '\n');
    $('code').focus();
  });
  return [copy, open];
}

function addUserMessage(text) {
  $('empty')?.remove();
  const m = el('div', 'msg user');
  m.append(el('div', 'who', 'You'), el('div', 'body plain', text));
  $('messages').append(m);
  scrollMessages(true);
  return m;
}

function addAssistantMessage() {
  const m = el('div', 'msg assistant streaming');
  const head = el('div', 'who');
  const name = el('span', 'name', 'glint');
  const badge = el('span', 'badge');
  badge.hidden = true;
  head.append(name, badge);
  const progress = el('div', 'progress');
  const body = el('div', 'body');
  const meta = el('div', 'meta');
  m.append(head, progress, body, meta);
  $('messages').append(m);
  scrollMessages(true);
  return {root: m, name, badge, progress, body, meta, renderQueued: false};
}

function renderAnswer(t) {
  if (t.view.renderQueued) return;
  t.view.renderQueued = true;
  requestAnimationFrame(() => {
    t.view.renderQueued = false;
    renderMarkdown(t.view.body, t.out, codeActions);
    scrollMessages(false);
  });
}

function startTurn(text) {
  if (chat.turn || !chatChannel.isOpen) return;
  addUserMessage(text);
  const t = {
    text,
    model: requestModel(),
    view: addAssistantMessage(),
    out: '',
    deltas: 0,
    t0: 0,
    tFirst: null,
    tEnd: null,
    id: null,
    usage: null,
    resent: false,
    stopping: false,
  };
  chat.turn = t;
  sendTurn(t);
  updateControls();
  tick();
}

function sendTurn(t) {
  const item = (role, content) => ({type: 'message', role, content});
  const event = {
    type: 'response.create',
    model: t.model,
    max_output_tokens: maxTokens(),
    prompt_cache_key: chatChannel.cacheKey,
  };
  if (chat.lastId) {
    // Only the new message: the server holds the rest and its KV cache.
    event.previous_response_id = chat.lastId;
    event.input = [item('user', t.text)];
    t.prefillEstimate = estimateTokens(t.text) + 6;
  } else {
    event.instructions = kChatInstructions;
    event.input = [...chat.history.map((m) => item(m.role, m.content)), item('user', t.text)];
    t.prefillEstimate = conversationEstimate(t.text);
  }
  t.t0 = performance.now();
  t.tFirst = null;
  chatChannel.send(event);
}

function stopTurn() {
  const t = chat.turn;
  if (!t || t.stopping) return;
  t.stopping = true;
  chatChannel.send({type: 'response.cancel'});
  updateControls();
}

function onChatEvent(ev) {
  const t = chat.turn;
  if (!t) return;
  switch (ev.type) {
    case 'response.created': {
      t.id = ev.response.id;
      t.served = ev.response.model;
      t.routing = ev.response.routing || null;
      t.view.name.textContent = t.served;
      // Another model than the last turn's has none of the conversation in
      // its cache: it reads all of it.
      if (chat.lastId && chat.lastModel && t.served !== chat.lastModel) {
        t.prefillEstimate = conversationEstimate(t.text);
      }
      if (t.routing) {
        t.view.badge.hidden = false;
        t.view.badge.dataset.tier = t.routing.tier || '';
        t.view.badge.textContent = `auto → ${t.routing.tier || t.routing.model}: ${t.routing.reason}`;
        t.view.badge.title = `routing rule: ${t.routing.rule}`;
      }
      showRoute(t.routing);
      scrollMessages(false);
      break;
    }
    case 'response.output_text.delta':
      if (t.tFirst === null) t.tFirst = performance.now();
      t.deltas++;
      t.out += ev.delta;
      renderAnswer(t);
      break;
    case 'response.completed':
    case 'response.incomplete':
    case 'response.failed':
      finishTurn(ev.response);
      break;
    case 'error':
      if (ev.error?.code === 'previous_response_not_found' && !t.resent) {
        // The server forgot the conversation (restart, expiry): send it all.
        t.resent = true;
        chat.lastId = null;
        t.note = 'the server had lost the conversation; sent it again in full';
        sendTurn(t);
        break;
      }
      failTurn(ev.error?.message || 'error', ev.error?.code);
      break;
    default:
      break;
  }
}

function outputText(response) {
  let text = '';
  for (const item of response.output || []) {
    if (item.type !== 'message') continue;
    for (const part of item.content || []) {
      if (part.type === 'output_text') text += part.text;
    }
  }
  return text;
}

function finishTurn(response) {
  const t = chat.turn;
  t.tEnd = performance.now();
  t.usage = response.usage;
  t.status = response.status;
  if (response.status === 'failed') {
    failTurn(response.error?.message || 'the model failed', response.error?.code);
    return;
  }
  const text = outputText(response);
  if (text.length >= t.out.length) t.out = text;
  chat.lastId = response.id;
  chat.lastModel = response.model;
  chat.history.push({role: 'user', content: t.text}, {role: 'assistant', content: t.out});
  endTurn();
}

function failTurn(message, code) {
  const t = chat.turn;
  t.tEnd = t.tEnd || performance.now();
  t.status = 'failed';
  t.error = code ? `${message} (${code})` : message;
  endTurn();
}

// The socket dropped mid-turn: the turn is not part of the conversation.
function dropTurn() {
  const t = chat.turn;
  if (!t) return;
  t.tEnd = performance.now();
  t.status = 'interrupted';
  t.error = 'the connection dropped; this answer is not part of the conversation';
  endTurn();
}

function endTurn() {
  const t = chat.turn;
  chat.turn = null;
  const v = t.view;
  v.root.classList.remove('streaming');
  v.root.classList.add(`status-${t.status}`);
  v.progress.replaceChildren();
  renderMarkdown(v.body, t.out, codeActions);
  if (!t.out && t.status !== 'failed' && t.status !== 'interrupted') {
    v.body.append(el('p', 'muted', '(no text)'));
  }
  if (t.error) v.body.append(el('div', 'error', t.error));
  v.meta.replaceChildren(...turnStats(t).map(([label, value, cls]) => {
    const s = el('span', cls ? `stat ${cls}` : 'stat');
    s.append(el('span', 'label', label), ' ', el('span', 'value', value));
    return s;
  }));
  if (t.note) v.meta.append(el('span', 'note', t.note));
  renderReadout(t);
  updateControls();
  scrollMessages(false);
  $('prompt').focus();
}

// [label, value, class] pairs of a finished turn, for its footer.
function turnStats(t) {
  const u = t.usage;
  const stats = [];
  const status = {cancelled: 'stopped', incomplete: 'length limit', failed: 'failed',
                  interrupted: 'interrupted'}[t.status];
  if (status) stats.push(['', status, `status ${t.status}`]);
  if (t.tFirst !== null) stats.push(['TTFT', fmtMs(t.tFirst - t.t0)]);
  if (u) {
    stats.push(['tok/s', fmtRate(decodeRate(t))]);
    stats.push(['tokens', String(u.output_tokens)]);
    stats.push(['cached', `${u.input_tokens_details?.cached_tokens ?? 0}/${u.input_tokens}`]);
  }
  return stats;
}

// Tokens per second of the decode: the server's figure when it has one,
// otherwise the output tokens over the time since the first one.
function decodeRate(t) {
  const u = t.usage;
  if (u?.timings?.decode_tokens_per_s > 0) return u.timings.decode_tokens_per_s;
  if (t.tFirst === null) return null;
  const n = u ? u.output_tokens : t.deltas;
  const s = ((t.tEnd ?? performance.now()) - t.tFirst) / 1000;
  return n > 1 && s > 0 ? (n - 1) / s : null;
}

// The readout under the conversation: live while a turn runs, then final.
function renderReadout(t) {
  const now = performance.now();
  const live = chat.turn === t;
  const set = (id, value) => { $(id).textContent = value; };
  set('stat-model', t.served || t.model);
  if (t.tFirst === null) {
    set('stat-ttft', live ? `${((now - t.t0) / 1000).toFixed(1)} s…` : '—');
  } else {
    set('stat-ttft', fmtMs(t.tFirst - t.t0));
  }
  if (live) {
    // Deltas while streaming (speculative decoding may put several tokens
    // in one delta, so this undercounts); the usage's figure at the end.
    const s = t.tFirst === null ? 0 : (now - t.tFirst) / 1000;
    set('stat-rate', t.deltas > 1 && s > 0 ? fmtRate((t.deltas - 1) / s) : '—');
    set('stat-tokens', t.deltas ? `~${t.deltas}` : '—');
    set('stat-cached', '—');
  } else {
    const u = t.usage;
    set('stat-rate', fmtRate(decodeRate(t)));
    set('stat-tokens', u ? String(u.output_tokens) : String(t.deltas || '—'));
    set('stat-cached', u ? `${u.input_tokens_details?.cached_tokens ?? 0} / ${u.input_tokens}` : '—');
  }
  const phase = $('phase');
  phase.dataset.phase = live ? (t.tFirst === null ? 'prefill' : 'decode') : 'idle';
  if (live && t.tFirst === null) {
    phase.textContent = t.stopping ? 'stopping…'
        : `prefilling ~${t.prefillEstimate} tokens · ${((now - t.t0) / 1000).toFixed(1)} s`;
  } else if (live) {
    phase.textContent = t.stopping ? 'stopping…' : 'streaming';
  } else {
    phase.textContent = {completed: 'done', cancelled: 'stopped', incomplete: 'length limit',
                         failed: 'failed', interrupted: 'interrupted'}[t.status] || '';
  }
  // The same progress in the message until its first token.
  if (live && t.tFirst === null) {
    const p = t.view.progress;
    if (!p.firstChild) {
      p.append(el('span', 'spinner'), el('span', 'text'));
      scrollMessages(false);
    }
    p.lastChild.textContent = phase.textContent;
  } else if (live && t.view.progress.firstChild) {
    t.view.progress.replaceChildren();
  }
}

function newChat() {
  if (chat.turn) return;
  chat.history = [];
  chat.lastId = null;
  chat.lastModel = null;
  $('messages').replaceChildren(emptyState());
  showRoute(null);
  for (const id of ['stat-ttft', 'stat-rate', 'stat-tokens', 'stat-cached', 'stat-model']) {
    $(id).textContent = '—';
  }
  $('phase').textContent = '';
  $('phase').dataset.phase = 'idle';
  $('prompt').focus();
}

function emptyState() {
  const box = el('div', 'empty');
  box.id = 'empty';
  box.append(el('div', 'empty-title', 'Ask about code'),
             el('p', null, 'Answers stream over one WebSocket session; each turn sends only ' +
                           'the new message, the server keeps the rest in its KV cache.'));
  const chips = el('div', 'chips');
  for (const s of ['Explain Python list comprehensions with an example.',
                   'Write a C function that reverses a string in place.',
                   'How do I avoid SQL injection when building queries in Python?']) {
    const c = el('button', 'chip', s);
    c.type = 'button';
    c.addEventListener('click', () => {
      $('prompt').value = s;
      $('prompt').focus();
      updateControls();
    });
    chips.append(c);
  }
  box.append(chips);
  return box;
}

// ---------------------------------------------------------------------------
// Code pane: edits with predicted outputs

const kLanguages = {
  py: 'python', cc: 'cpp', cpp: 'cpp', cxx: 'cpp', hpp: 'cpp', hh: 'cpp', h: 'c', c: 'c',
  js: 'javascript', mjs: 'javascript', jsx: 'jsx', ts: 'typescript', tsx: 'tsx', go: 'go',
  rs: 'rust', java: 'java', kt: 'kotlin', rb: 'ruby', sh: 'bash', sql: 'sql', html: 'html',
  css: 'css', json: 'json', yaml: 'yaml', yml: 'yaml', toml: 'toml', md: 'markdown',
  swift: 'swift', php: 'php', cs: 'csharp', lua: 'lua', zig: 'zig',
};

function fenceLanguage(name) {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : kLanguages[name.slice(dot + 1).toLowerCase()] || '';
}

// A fence longer than any run of backticks in the file (as glint edit does).
function fenceFor(text) {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return '`'.repeat(Math.max(3, longest + 1));
}

// The file inside the answer's first fenced block: {started, closed, text}
// (closed: the closing fence and the newline after it have arrived).
function extractFenced(answer) {
  const open = /^ {0,3}(`{3,}|~{3,})[^\n]*\n/m.exec(answer);
  if (!open) return {started: false, closed: false, text: ''};
  const body = answer.slice(open.index + open[0].length);
  const closeRe = new RegExp(`^ {0,3}${open[1][0] === '`' ? '`' : '~'}{${open[1].length},}[ \\t]*(\\n|$)`, 'm');
  const close = closeRe.exec(body);
  if (!close) return {started: true, closed: false, text: body};
  return {started: true, closed: close[1] === '\n', text: body.slice(0, close.index)};
}

const edit = {
  run: null,     // the edit being generated
  result: null,  // {before, after} waiting for accept / discard
  undo: null,    // the code before the last accepted edit
};

function setCode(text) {
  $('code').value = text;
  renderGutter();
}

function renderGutter() {
  const n = Math.max(1, $('code').value.split('\n').length);
  const lines = [];
  for (let i = 1; i <= n; i++) lines.push(i);
  $('gutter').textContent = lines.join('\n');
  $('gutter').scrollTop = $('code').scrollTop;
}

function startEdit() {
  const code = $('code').value;
  const instruction = $('instruction').value.trim();
  if (edit.run || !code.trim() || !instruction || !editChannel.isOpen) return;
  const name = $('file-name').value.trim() || 'file';
  const lang = fenceLanguage(name);
  const fence = fenceFor(code);
  const file = code.endsWith('\n') ? code : code + '\n';
  const user = `File \`${name}\`:\n${fence}${lang}\n${file}${fence}\n\nInstruction: ${instruction}`;
  edit.run = {
    before: code, fence, t0: performance.now(), tFirst: null, tEnd: null, deltas: 0, out: '',
    cutAtFence: false, stopping: false, model: requestModel(),
    prefillEstimate: estimateTokens(kEditInstructions + user) + 12,
  };
  edit.result = null;
  editChannel.send({
    type: 'response.create',
    model: edit.run.model,
    instructions: kEditInstructions,
    input: [{type: 'message', role: 'user', content: user}],
    // The answer should be the file again, fenced: the fenced file is the
    // draft for speculative decoding, from the first token on.
    prediction: {type: 'content', content: `${fence}${lang}\n${file}${fence}`},
    temperature: 0,
    max_output_tokens: Math.max(64, Math.ceil(file.length / 2) + 64),
    prompt_cache_key: editChannel.cacheKey,
    store: false,
  });
  $('edit-result').hidden = false;
  $('edit-result').dataset.state = 'running';
  $('diff').replaceChildren();
  $('diff').hidden = true;
  $('preview').hidden = false;
  $('preview').textContent = '';
  $('edit-meta').replaceChildren();
  updateControls();
  tick();
}

function onEditEvent(ev) {
  const r = edit.run;
  if (!r) return;
  switch (ev.type) {
    case 'response.created':
      r.served = ev.response.model;
      r.routing = ev.response.routing || null;
      if (r.routing) showRoute(r.routing);
      break;
    case 'response.output_text.delta': {
      if (r.tFirst === null) {
        r.tFirst = performance.now();
        renderEditProgress(r);
      }
      r.deltas++;
      r.out += ev.delta;
      const f = extractFenced(r.out);
      renderPreview(r, f);
      if (f.closed && !r.cutAtFence) {
        // The file is complete; whatever the model adds after it is not
        // wanted, so stop generating.
        r.cutAtFence = true;
        editChannel.send({type: 'response.cancel'});
      }
      break;
    }
    case 'response.completed':
    case 'response.incomplete':
    case 'response.failed':
      finishEdit(ev.response);
      break;
    case 'error':
      r.error = `${ev.error?.message || 'error'} (${ev.error?.code || ev.status})`;
      finishEdit(null);
      break;
    default:
      break;
  }
}

// The new text as it streams, followed by the rest of the old file dimmed:
// what the prediction expects to come (edits mostly keep the line count).
function renderPreview(r, f) {
  const box = $('preview');
  let text = f.started ? f.text : r.out;
  // Before the opening fence is complete, show nothing rather than "```".
  if (!f.started && /^\s*(`|~)*[\w+#.-]*$/.test(r.out)) text = '';
  const written = text.split('\n');
  const old = r.before.split('\n');
  const current = written.length - 1;
  // The line being written: the old line's remainder (same prefix only).
  const partial = written[current];
  let rest = old[current] !== undefined && old[current].startsWith(partial)
      ? old[current].slice(partial.length) : '';
  if (current + 1 < old.length) rest += '\n' + old.slice(current + 1).join('\n');
  box.replaceChildren(el('span', 'written', text), el('span', 'predicted', rest));
  const lineHeight = parseFloat(getComputedStyle(box).lineHeight) || 20;
  box.scrollTop = Math.max(0, current * lineHeight - box.clientHeight / 2);
}

function finishEdit(response) {
  const r = edit.run;
  edit.run = null;
  r.tEnd = performance.now();
  r.usage = response?.usage || null;
  r.status = response ? response.status : 'failed';
  if (response?.status === 'failed') r.error = response.error?.message || 'the model failed';
  if (r.status === 'cancelled' && r.cutAtFence) r.status = 'completed';
  const res = $('edit-result');
  const meta = $('edit-meta');
  meta.replaceChildren();
  const addStat = (label, value, cls) => {
    const s = el('span', cls ? `stat ${cls}` : 'stat');
    s.append(el('span', 'label', label), ' ', el('span', 'value', value));
    meta.append(s);
  };
  addStat('model', r.served || r.model);
  if (r.tFirst !== null) addStat('TTFT', fmtMs(r.tFirst - r.t0));
  if (r.usage) {
    addStat('tok/s', fmtRate(decodeRate(r)));
    addStat('tokens', String(r.usage.output_tokens));
    const d = r.usage.output_tokens_details || {};
    addStat('prediction', `${d.accepted_prediction_tokens ?? 0} accepted · ` +
                          `${d.rejected_prediction_tokens ?? 0} rejected`, 'prediction');
  }
  if (r.error || r.status === 'cancelled' || r.status === 'interrupted') {
    res.dataset.state = 'failed';
    $('edit-status').textContent = r.error || (r.status === 'cancelled' ? 'Stopped'
                                                                         : 'Connection dropped');
    updateControls();
    return;
  }
  const f = extractFenced(r.out);
  let after = f.started ? f.text : r.out.trim() + '\n';
  if (!after.endsWith('\n')) after += '\n';
  if (!r.before.endsWith('\n')) after = after.slice(0, -1);
  edit.result = {before: r.before, after};
  const ops = diffLines(r.before, after);
  const changed = ops.filter((o) => o.op !== ' ');
  const added = changed.filter((o) => o.op === '+').length;
  const removed = changed.length - added;
  res.dataset.state = changed.length ? 'review' : 'same';
  $('edit-status').textContent = changed.length
      ? `Review the edit: ${added} line${added === 1 ? '' : 's'} added, ` +
        `${removed} removed${r.status === 'incomplete' ? ' (hit the token limit)' : ''}`
      : 'The model returned the code unchanged';
  renderDiff(ops);
  $('preview').hidden = true;
  $('diff').hidden = false;
  updateControls();
  $(changed.length ? 'accept' : 'discard').focus();
}

function renderDiff(ops) {
  const box = $('diff');
  const frag = document.createDocumentFragment();
  for (const h of hunks(ops, 3)) {
    frag.append(el('div', 'hunk', h.header));
    for (const o of h.ops) {
      const row = el('div', `line ${{' ': 'same', '-': 'del', '+': 'add'}[o.op]}`);
      row.append(el('span', 'ln', o.a ?? ''), el('span', 'ln', o.b ?? ''),
                 el('span', 'sign', o.op), el('span', 'text', o.text));
      frag.append(row);
    }
  }
  box.replaceChildren(frag);
}

function acceptEdit() {
  if (!edit.result) return;
  edit.undo = $('code').value;
  setCode(edit.result.after);
  closeEdit('Edit applied.');
  $('undo').hidden = false;
}

function closeEdit(message) {
  edit.result = null;
  $('edit-result').hidden = true;
  $('edit-note').textContent = message || '';
  updateControls();
}

function undoEdit() {
  if (edit.undo === null) return;
  setCode(edit.undo);
  edit.undo = null;
  $('undo').hidden = true;
  $('edit-note').textContent = 'Edit undone.';
}

// ---------------------------------------------------------------------------
// Controls and timers

function updateControls() {
  const busy = chat.turn !== null;
  $('send').disabled = busy || !chatChannel.isOpen || !$('prompt').value.trim();
  $('stop').disabled = !busy || chat.turn.stopping;
  $('stop').textContent = busy && chat.turn.stopping ? 'Stopping…' : 'Stop';
  $('stop').classList.toggle('armed', busy && !chat.turn.stopping);
  $('new-chat').disabled = busy;
  const editing = edit.run !== null;
  $('edit').disabled = editing || !editChannel.isOpen || !$('code').value.trim() ||
                       !$('instruction').value.trim();
  $('edit-stop').hidden = !editing;
  $('accept').disabled = edit.result === null || $('edit-result').dataset.state !== 'review';
  $('discard').disabled = editing;
  document.body.classList.toggle('busy', busy);
}

let ticking = false;

// Redraws the live readouts ten times a second while anything runs.
function tick() {
  if (ticking) return;
  ticking = true;
  const step = () => {
    if (chat.turn) renderReadout(chat.turn);
    if (edit.run) renderEditProgress(edit.run);
    if (chat.turn || edit.run) {
      setTimeout(step, 100);
    } else {
      ticking = false;
    }
  };
  step();
}

function renderEditProgress(r) {
  const now = performance.now();
  const secs = ((now - r.t0) / 1000).toFixed(1);
  let text;
  if (r.stopping) {
    text = 'Stopping…';
  } else if (r.tFirst === null) {
    text = `Prefilling ~${r.prefillEstimate} tokens · ${secs} s`;
  } else {
    text = `Streaming the edit · ${secs} s`;
  }
  $('edit-status').textContent = text;
}

// ---------------------------------------------------------------------------
// Wiring

function wire() {
  chatChannel.onState = renderConnection;
  editChannel.onState = updateControls;
  chatChannel.onDrop = dropTurn;
  editChannel.onDrop = () => {
    if (!edit.run) return;
    edit.run.error = 'the connection dropped';
    finishEdit(null);
  };

  for (const b of document.querySelectorAll('#tier button')) {
    b.addEventListener('click', () => setTier(b.dataset.tier));
  }
  setTier(settings.tier);

  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('prompt').value.trim();
    if (!text || chat.turn || !chatChannel.isOpen) return;
    $('prompt').value = '';
    startTurn(text);
  });
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('prompt').addEventListener('input', updateControls);
  $('stop').addEventListener('click', stopTurn);
  $('new-chat').addEventListener('click', newChat);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && chat.turn) stopTurn();
  });

  $('edit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    startEdit();
  });
  $('edit-stop').addEventListener('click', () => {
    if (!edit.run) return;
    edit.run.stopping = true;
    editChannel.send({type: 'response.cancel'});
  });
  $('accept').addEventListener('click', acceptEdit);
  $('discard').addEventListener('click', () => closeEdit('Edit discarded.'));
  $('undo').addEventListener('click', undoEdit);
  $('instruction').addEventListener('input', updateControls);
  const code = $('code');
  code.addEventListener('input', () => {
    renderGutter();
    updateControls();
  });
  code.addEventListener('scroll', () => { $('gutter').scrollTop = code.scrollTop; });
  code.addEventListener('keydown', (e) => {
    if (e.key === 'Tab' && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      code.setRangeText('    ', code.selectionStart, code.selectionEnd, 'end');
      renderGutter();
    }
  });

  $('key-button').addEventListener('click', () => {
    $('key-panel').hidden = !$('key-panel').hidden;
    if (!$('key-panel').hidden) $('key-input').focus();
  });
  $('key-panel').addEventListener('submit', (e) => {
    e.preventDefault();
    saveKey($('key-input').value);
  });
  $('key-forget').addEventListener('click', () => saveKey(''));
  $('key-input').value = settings.key;
  $('key-state').textContent = settings.key ? 'key set for this tab' : 'no key';
  $('key-button').textContent = settings.key ? 'API key (set)' : 'API key';

  $('messages').replaceChildren(emptyState());
  renderGutter();
  updateControls();
}

wire();
start();
