// A small Markdown subset for model answers: fenced code blocks, headings,
// lists, paragraphs, `inline code` and **bold**. Everything is built as DOM
// nodes with textContent: model text never goes through innerHTML.

const kFence = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;

// Splits text into blocks: {kind: 'code', lang, text, open} and
// {kind: 'prose', lines}. An unclosed fence (still streaming) is a code
// block that runs to the end.
export function parseBlocks(text) {
  const blocks = [];
  const lines = text.split('\n');
  let prose = [];
  const flush = () => {
    if (prose.length) blocks.push({kind: 'prose', lines: prose});
    prose = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const m = kFence.exec(lines[i]);
    if (!m) {
      prose.push(lines[i]);
      continue;
    }
    flush();
    const fence = m[1];
    const code = [];
    let closed = false;
    for (i++; i < lines.length; i++) {
      const t = lines[i].trim();
      if (t.length >= fence.length && t[0] === fence[0] && /^(`+|~+)$/.test(t)) {
        closed = true;
        break;
      }
      code.push(lines[i]);
    }
    blocks.push({kind: 'code', lang: m[2], text: code.join('\n'), open: !closed});
  }
  flush();
  return blocks;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// `code` and **bold** inside a line, as nodes appended to parent.
function appendInline(parent, line) {
  const parts = line.split(/(`[^`\n]+`|\*\*[^*\n]+\*\*)/);
  for (const p of parts) {
    if (!p) continue;
    if (p.length > 2 && p.startsWith('`') && p.endsWith('`')) {
      parent.append(el('code', 'inline', p.slice(1, -1)));
    } else if (p.length > 4 && p.startsWith('**') && p.endsWith('**')) {
      parent.append(el('strong', null, p.slice(2, -2)));
    } else {
      parent.append(document.createTextNode(p));
    }
  }
}

function renderProse(parent, lines) {
  let list = null;
  let para = null;
  for (const raw of lines) {
    const line = raw.replace(/\s+$/, '');
    if (!line.trim()) {
      list = null;
      para = null;
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*(\d+)[.)]\s+(.*)$/.exec(line);
    if (heading) {
      const h = el('div', `heading h${Math.min(heading[1].length, 3)}`);
      appendInline(h, heading[2]);
      parent.append(h);
      list = null;
      para = null;
    } else if (bullet || numbered) {
      const tag = bullet ? 'ul' : 'ol';
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = el(tag);
        if (numbered && numbered[1] !== '1') list.start = Number(numbered[1]);
        parent.append(list);
      }
      const li = el('li');
      appendInline(li, bullet ? bullet[1] : numbered[2]);
      list.append(li);
      para = null;
    } else if (list && /^\s{2,}/.test(raw)) {
      // A continuation line of the last list item.
      appendInline(list.lastChild, ' ' + line.trim());
    } else {
      list = null;
      if (!para) {
        para = el('p');
        parent.append(para);
      } else {
        para.append(el('br'));
      }
      appendInline(para, line);
    }
  }
}

// Replaces container's children with the rendered text. codeActions(lang,
// code) returns buttons for a code block's header (copy, open in editor).
export function renderMarkdown(container, text, codeActions) {
  const frag = document.createDocumentFragment();
  for (const block of parseBlocks(text)) {
    if (block.kind === 'prose') {
      renderProse(frag, block.lines);
      continue;
    }
    const box = el('div', 'codeblock' + (block.open ? ' open' : ''));
    const head = el('div', 'codeblock-head');
    head.append(el('span', 'lang', block.lang || 'code'));
    if (codeActions && !block.open) head.append(...codeActions(block.lang, block.text));
    const pre = el('pre');
    pre.append(el('code', null, block.text));
    box.append(head, pre);
    frag.append(box);
  }
  container.replaceChildren(frag);
}
