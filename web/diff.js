// Line diff for the code pane: the longest common subsequence of lines
// (Hunt–McIlroy's formulation, by dynamic programming) after trimming the
// common head and tail, which is where an edit usually leaves most lines.

// Lines of text, each without its "\n"; a final newline adds no empty line.
export function splitLines(text) {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// Above this many cells (old lines × new lines, after trimming) the middle is
// shown as removed and added instead: the table would cost too much memory.
const kMaxCells = 4_000_000;

// [{op: ' ' | '-' | '+', text, a, b}]: a and b are 1-based line numbers in the
// old and new text (null on the side a line is not in).
export function diffLines(oldText, newText) {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head &&
         a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const n = a.length - head - tail;
  const m = b.length - head - tail;

  const ops = [];
  for (let i = 0; i < head; i++) ops.push({op: ' ', text: a[i], a: i + 1, b: i + 1});
  if (n * m > kMaxCells) {
    for (let i = 0; i < n; i++) ops.push({op: '-', text: a[head + i], a: head + i + 1, b: null});
    for (let j = 0; j < m; j++) ops.push({op: '+', text: b[head + j], a: null, b: head + j + 1});
  } else {
    // lcs[i][j]: the LCS length of a[head+i..] and b[head+j..], row-major.
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = a[head + i] === b[head + j]
            ? lcs[(i + 1) * w + j + 1] + 1
            : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[head + i] === b[head + j]) {
        ops.push({op: ' ', text: a[head + i], a: head + i + 1, b: head + j + 1});
        i++;
        j++;
      } else if (j === m || (i < n && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
        // Removals before additions within a change.
        ops.push({op: '-', text: a[head + i], a: head + i + 1, b: null});
        i++;
      } else {
        ops.push({op: '+', text: b[head + j], a: null, b: head + j + 1});
        j++;
      }
    }
  }
  for (let k = tail; k > 0; k--) {
    ops.push({op: ' ', text: a[a.length - k], a: a.length - k + 1, b: b.length - k + 1});
  }
  return ops;
}

// Groups of ops around the changes, with `context` unchanged lines on each
// side (a unified diff's hunks): [{header: "@@ -a,b +c,d @@", ops}].
export function hunks(ops, context = 3) {
  const changed = ops.map((o) => o.op !== ' ');
  const out = [];
  let k = 0;
  while (k < ops.length) {
    if (!changed[k]) { k++; continue; }
    let start = Math.max(0, k - context);
    let end = k;
    // Extend while the next change is within 2 × context lines.
    while (end < ops.length) {
      let next = end;
      while (next < ops.length && !changed[next]) next++;
      if (next === ops.length || next - end > 2 * context) break;
      end = next;
      while (end < ops.length && changed[end]) end++;
    }
    end = Math.min(ops.length, end + context);
    if (out.length && start < out[out.length - 1].end) start = out[out.length - 1].end;
    const slice = ops.slice(start, end);
    const firstA = slice.find((o) => o.a !== null);
    const firstB = slice.find((o) => o.b !== null);
    const countA = slice.filter((o) => o.op !== '+').length;
    const countB = slice.filter((o) => o.op !== '-').length;
    const header = `@@ -${firstA ? firstA.a : 0},${countA} +${firstB ? firstB.b : 0},${countB} @@`;
    out.push({header, ops: slice, end});
    k = end;
  }
  return out.map(({header, ops: o}) => ({header, ops: o}));
}
