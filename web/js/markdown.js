// Markdown rendering for the chat. The text is model output, so it is untrusted: the DOM is built
// only with createElement / createTextNode / textContent and a fixed set of attributes, never by
// parsing HTML, so raw HTML in the text shows up as literal text. Links are kept only for http:,
// https: and mailto: URLs, and images are shown as links rather than loaded (no tracking pixels).
// The text is re-rendered on every streamed chunk, so the parser is a single forward pass over
// lines (blocks) and characters (inlines), without backtracking regexes, and it accepts
// half-written syntax: an unclosed fence is a code block so far, an unclosed ** stays literal.

import { highlightInto } from "./highlight.js";

const MAX_DEPTH = 16;        // nesting of lists and quotes; deeper markers are plain text
const MAX_URL = 2048;        // longest link destination looked for
const MAX_TITLE = 256;       // longest link title looked for
const COPIED_MS = 1500;

// Replaces the children of `container` with the rendering of `text`.
export function renderMarkdown(text, container) {
  const source = String(text ?? "");
  const frag = document.createDocumentFragment();
  try {
    parseBlocks(source.replace(/\r\n?/g, "\n").replace(/\0/g, "\uFFFD").split("\n"), frag, 0, false);
  } catch (err) {
    // A parser bug must never hide the message: fall back to the plain text.
    frag.replaceChildren(document.createTextNode(source));
  }
  container.replaceChildren(frag);
}

function el(tag, className) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  return e;
}

// ---- Blocks ---------------------------------------------------------------------------------

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]|$)/;
const QUOTE = /^ {0,3}>/;
const LIST_ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])(?:[ \t]+|$)/;

const isBlank = (line) => line.trim() === "";

// Width of the leading whitespace, a tab counting up to the next multiple of 4 columns.
function indentOf(line) {
  let col = 0;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === " ") col++;
    else if (line[i] === "\t") col += 4 - (col % 4);
    else break;
  }
  return col;
}

// `line` without its first `cols` columns of leading whitespace.
function stripIndent(line, cols) {
  let col = 0, i = 0;
  while (i < line.length && col < cols && (line[i] === " " || line[i] === "\t")) {
    col += line[i] === "\t" ? 4 - (col % 4) : 1;
    i++;
  }
  return (col > cols ? " ".repeat(col - cols) : "") + line.slice(i);
}

function fenceOpen(line) {
  const m = FENCE_OPEN.exec(line);
  if (!m || (m[2][0] === "`" && m[3].includes("`"))) return null;  // `code` spans are not fences
  return m;
}

function listItem(line) {
  const m = LIST_ITEM.exec(line);
  if (!m) return null;
  const indent = indentOf(m[1]);
  const marker = m[2];
  const content = line.slice(m[0].length);
  const gap = m[0].length - m[1].length - marker.length;
  // Where the item's content starts; continuation lines are stripped to it.
  const contentCol = indent + marker.length + (content === "" || gap > 4 ? 1 : gap);
  const ordered = marker.length > 1;
  return { indent, ordered, start: ordered ? parseInt(marker, 10) : 0, content, contentCol };
}

function isHr(line) {
  const t = line.trim();
  if (t.length < 3 || indentOf(line) > 3 || !"-*_".includes(t[0])) return false;
  let count = 0;
  for (const ch of t) {
    if (ch === t[0]) count++;
    else if (ch !== " " && ch !== "\t") return false;
  }
  return count >= 3;
}

// Splits a table row on unescaped pipes, without the optional outer pipes.
function splitRow(line) {
  let t = line.trim();
  if (t.startsWith("|")) t = t.slice(1);
  if (t.endsWith("|") && !t.endsWith("\\|")) t = t.slice(0, -1);
  const cells = [];
  let cell = "";
  for (let i = 0; i < t.length; i++) {
    if (t[i] === "\\" && t[i + 1] === "|") { cell += "|"; i++; }
    else if (t[i] === "|") { cells.push(cell.trim()); cell = ""; }
    else cell += t[i];
  }
  cells.push(cell.trim());
  return cells;
}

// Alignments of a delimiter row (| :--- | :--: | ---: |), or null if it is not one.
function tableAligns(line) {
  if (!/^[\s|:-]+$/.test(line) || !line.includes("-")) return null;
  const aligns = [];
  for (const cell of splitRow(line)) {
    if (!/^:?-+:?$/.test(cell)) return null;
    const left = cell[0] === ":", right = cell.endsWith(":");
    aligns.push(left && right ? "center" : right ? "right" : left ? "left" : "");
  }
  return aligns;
}

function isTableStart(lines, i) {
  if (!lines[i].includes("|") || i + 1 >= lines.length) return null;
  const aligns = tableAligns(lines[i + 1]);
  return aligns && aligns.length === splitRow(lines[i]).length ? aligns : null;
}

// Whether line i starts a block, which ends a paragraph (or a list item's lazy continuation).
function startsBlock(lines, i, depth, inList) {
  const line = lines[i];
  if (fenceOpen(line) || HEADING.test(line) || isHr(line) || isTableStart(lines, i)) return true;
  if (depth >= MAX_DEPTH) return false;
  if (QUOTE.test(line)) return true;
  const item = listItem(line);
  // As in CommonMark, an empty item or a number other than 1 does not interrupt a paragraph
  // ("in 1999. we..."), except inside lists, where nested numbered lists are common.
  return !!item && item.content.trim() !== "" && (!item.ordered || item.start === 1 || inList);
}

function parseBlocks(lines, parent, depth, inList) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (isBlank(line)) i++;
    else if ((m = fenceOpen(line))) i = parseFence(lines, i, m, parent);
    else if ((m = HEADING.exec(line))) {
      const h = el("h" + m[1].length);
      renderInline(headingText(line.slice(m[0].length)), h);
      parent.appendChild(h);
      i++;
    } else if (isHr(line)) { parent.appendChild(el("hr")); i++; }
    else if (depth < MAX_DEPTH && QUOTE.test(line)) i = parseQuote(lines, i, parent, depth);
    else if (depth < MAX_DEPTH && listItem(line)) i = parseList(lines, i, parent, depth);
    else if ((m = isTableStart(lines, i))) i = parseTable(lines, i, m, parent, depth, inList);
    else i = parseParagraph(lines, i, parent, depth, inList);
  }
}

// A heading's text without the optional closing hashes ("## Title ##").
function headingText(rest) {
  let t = rest.trim();
  let end = t.length;
  while (end > 0 && t[end - 1] === "#") end--;
  if (end < t.length && (end === 0 || t[end - 1] === " " || t[end - 1] === "\t")) t = t.slice(0, end).trim();
  return t;
}

function parseParagraph(lines, i, parent, depth, inList) {
  const parts = [lines[i].trim()];
  let j = i + 1;
  while (j < lines.length && !isBlank(lines[j]) && !startsBlock(lines, j, depth, inList)) parts.push(lines[j++].trim());
  const p = el("p");
  renderInline(parts.join("\n"), p);   // single newlines become <br>, as chat UIs do
  parent.appendChild(p);
  return j;
}

function parseFence(lines, i, m, parent) {
  const indent = m[1].length, fence = m[2];
  const lang = (m[3].trim().split(/\s+/)[0] || "").replace(/[^\w+#.-]/g, "").slice(0, 32);
  const body = [];
  let j = i + 1;
  for (; j < lines.length; j++) {
    const close = FENCE_CLOSE.exec(lines[j]);
    if (close && close[1][0] === fence[0] && close[1].length >= fence.length) { j++; break; }
    body.push(stripIndent(lines[j], indent));
  }
  // A fence still open at the end of the text (streaming) is a code block up to here.
  parent.appendChild(codeBlock(body.join("\n"), lang));
  return j;
}

function parseQuote(lines, i, parent, depth) {
  const inner = [];
  let j = i;
  for (; j < lines.length; j++) {
    const line = lines[j];
    const m = QUOTE.exec(line);
    if (m) {
      let rest = line.slice(m[0].length);
      if (rest[0] === " " || rest[0] === "\t") rest = rest.slice(1);
      inner.push(rest);
    } else if (!isBlank(line) && !isBlank(inner[inner.length - 1]) && !startsBlock(lines, j, depth, false)) {
      inner.push(line);    // a "lazy" continuation line of the quoted paragraph
    } else break;
  }
  const q = el("blockquote");
  parseBlocks(inner, q, depth + 1, false);
  parent.appendChild(q);
  return j;
}

function parseList(lines, i, parent, depth) {
  const first = listItem(lines[i]);
  const list = el(first.ordered ? "ol" : "ul");
  if (first.ordered && first.start !== 1) list.setAttribute("start", String(first.start));
  const base = first.indent;
  let loose = false;
  const items = [];
  let item;
  while (i < lines.length && (item = listItem(lines[i])) && item.ordered === first.ordered && item.indent <= base) {
    const body = [item.content];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j];
      if (isBlank(line)) { body.push(""); continue; }
      const indent = indentOf(line);
      // Anything indented past the marker belongs to the item: its paragraphs, code, and nested
      // lists (models indent these by 2, 3 or 4 spaces, so any deeper indent counts).
      if (indent > base) { body.push(stripIndent(line, Math.min(indent, item.contentCol))); continue; }
      if (body[body.length - 1] === "" || listItem(line) || startsBlock(lines, j, depth, true)) break;
      body.push(line.trim());   // lazy continuation of the item's paragraph
    }
    let trailingBlank = false;
    while (body.length > 1 && body[body.length - 1] === "") { body.pop(); trailingBlank = true; }
    const li = el("li");
    parseBlocks(body, li, depth + 1, true);
    items.push(li);
    list.appendChild(li);
    i = j;
    const next = i < lines.length ? listItem(lines[i]) : null;
    if (trailingBlank && next && next.ordered === first.ordered && next.indent <= base) loose = true;
  }
  // Tight lists show an item's only paragraph inline, without paragraph margins.
  if (!loose) {
    for (const li of items) {
      const paras = [...li.children].filter((c) => c.tagName === "P");
      if (paras.length === 1) paras[0].replaceWith(...paras[0].childNodes);
    }
  }
  parent.appendChild(list);
  return i;
}

function parseTable(lines, i, aligns, parent, depth, inList) {
  const wrap = el("div", "table-wrap");   // lets wide tables scroll inside the bubble
  const table = el("table");
  const row = (cells, tag) => {
    const tr = el("tr");
    aligns.forEach((align, k) => {
      const cell = el(tag);
      if (align) cell.style.textAlign = align;
      renderInline(cells[k] ?? "", cell);
      tr.appendChild(cell);
    });
    return tr;
  };
  const thead = el("thead");
  thead.appendChild(row(splitRow(lines[i]), "th"));
  table.appendChild(thead);
  const tbody = el("tbody");
  let j = i + 2;
  while (j < lines.length && !isBlank(lines[j]) && !startsBlock(lines, j, depth, inList)) {
    tbody.appendChild(row(splitRow(lines[j]), "td"));
    j++;
  }
  if (tbody.firstChild) table.appendChild(tbody);
  wrap.appendChild(table);
  parent.appendChild(wrap);
  return j;
}

function codeBlock(code, lang) {
  const block = el("div", "code-block");
  const head = el("div", "code-head");
  const label = el("span", "code-lang");
  label.textContent = lang;
  const button = el("button", "copy");
  button.type = "button";
  button.setAttribute("aria-label", "Copy code");
  button.textContent = "Copy";
  let timer = 0;
  button.addEventListener("click", async () => {
    const ok = await copyText(code);
    button.textContent = ok ? "Copied" : "Copy failed";
    button.setAttribute("aria-label", ok ? "Copied" : "Copy failed");
    clearTimeout(timer);
    timer = setTimeout(() => {
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy code");
    }, COPIED_MS);
  });
  head.append(label, button);
  const pre = el("pre");
  const codeEl = el("code", lang ? "language-" + lang : "");
  highlightInto(code, lang, codeEl);
  pre.appendChild(codeEl);
  block.append(head, pre);
  return block;
}

async function copyText(text) {
  if (navigator.clipboard && navigator.clipboard.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (err) { /* e.g. not a secure context or no permission: try the old way */ }
  }
  const active = document.activeElement;
  const ta = el("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.top = "0";
  ta.style.opacity = "0";
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
  ta.remove();
  if (active && active.focus) active.focus();
  return ok;
}

// ---- Inlines --------------------------------------------------------------------------------

const WHITESPACE = /\s/;
const PUNCTUATION = /[\p{P}\p{S}]/u;
const ESCAPABLE = /[!-\/:-@\[-`{-~]/;
const TRAILING_URL_PUNCT = "?!.,:;*_~'\"";

// A safe href for `raw`, or null: only absolute http(s) and mailto URLs are linked.
function safeUrl(raw) {
  const s = raw.trim();
  if (!/^(https?:\/\/[^\s/?#]|mailto:[^\s])/i.test(s)) return null;
  try {
    const url = new URL(s);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch (err) {
    return null;
  }
}

function link(href, text) {
  const a = el("a");
  a.setAttribute("href", href);
  a.setAttribute("target", "_blank");
  a.setAttribute("rel", "noopener noreferrer");
  if (text !== undefined) a.textContent = text;
  return a;
}

// Appends the inline rendering of `src` to `parent`. A first pass turns the text into a linked
// list of text, finished elements (code, links, <br>) and runs of * _ ~~; the runs are then
// paired into <em>, <strong> and <del> the way CommonMark does, and the rest stay literal.
function renderInline(src, parent, inLink = false) {
  const n = src.length;
  let head = null, tail = null;
  const push = (item) => {
    item.prev = tail;
    item.next = null;
    if (tail) tail.next = item; else head = item;
    tail = item;
    return item;
  };
  let textFrom = 0;
  const flush = (upTo) => {
    if (upTo > textFrom) push({ text: src.slice(textFrom, upTo) });
  };
  let brackets = null;  // "[" position -> matching "]" position, computed on first need
  let ticks = null;     // backtick run length -> its start positions, for finding code span ends
  const tickNext = new Map();
  let i = 0;
  while (i < n) {
    const ch = src[i];
    if (ch === "\\") {
      if (ESCAPABLE.test(src[i + 1] || "")) {
        flush(i);
        push({ text: src[i + 1] });
        i += 2;
        textFrom = i;
      } else if (src[i + 1] === "\n") {   // a backslash line break: the newline already is one
        flush(i);
        i++;
        textFrom = i;
      } else i++;
    } else if (ch === "`") {
      let len = 1;
      while (src[i + len] === "`") len++;
      if (!ticks) ticks = backtickRuns(src);
      const starts = ticks.get(len) || [];
      let k = tickNext.get(len) || 0;
      while (k < starts.length && starts[k] < i + len) k++;
      tickNext.set(len, k);
      if (k < starts.length) {
        flush(i);
        let body = src.slice(i + len, starts[k]).replace(/\n/g, " ");
        if (body.length > 2 && body[0] === " " && body[body.length - 1] === " " && body.trim()) body = body.slice(1, -1);
        const code = el("code");
        code.textContent = body;
        push({ node: code });
        i = starts[k] + len;
        textFrom = i;
      } else i += len;  // no closing run (yet): the backticks are literal
    } else if (ch === "*" || ch === "_" || ch === "~") {
      let len = 1;
      while (src[i + len] === ch) len++;
      flush(i);
      push(delimiter(src, i, len));
      i += len;
      textFrom = i;
    } else if ((ch === "[" || (ch === "!" && src[i + 1] === "[")) && !inLink) {
      const open = ch === "[" ? i : i + 1;
      if (!brackets) brackets = matchBrackets(src);
      const end = linkEnd(src, brackets.get(open));
      if (end) {
        flush(i);
        const label = src.slice(open + 1, end.labelEnd);
        const href = safeUrl(end.url);
        if (!href) push({ text: src.slice(i, end.end) });      // javascript:, data:... stay text
        else if (ch === "!") {                                 // images are links, never loaded
          const a = link(href, label.trim() || end.url);
          a.className = "image-link";
          push({ node: a });
        } else {
          const a = link(href);
          renderInline(label, a, true);
          push({ node: a });
        }
        i = end.end;
        textFrom = i;
      } else i++;
    } else if (ch === "<" && !inLink) {
      // <https://...> or <user@host>; the scan stops at the first space, so it stays cheap.
      let close = i + 1;
      while (close < n && close - i <= MAX_URL && !/[\s<>]/.test(src[close])) close++;
      const inner = src[close] === ">" ? src.slice(i + 1, close) : "";
      const href = inner ? safeUrl(/^[^@:]+@[^@]+\.[^@]+$/.test(inner) ? "mailto:" + inner : inner) : null;
      if (href) {
        flush(i);
        push({ node: link(href, inner) });
        i = close + 1;
        textFrom = i;
      } else i++;   // raw HTML and the like: a literal "<"
    } else if ((ch === "h" || ch === "H") && !inLink && !/\w/.test(src[i - 1] || "") &&
               /^https?:\/\//i.test(src.slice(i, i + 8))) {
      const end = bareUrlEnd(src, i);
      const href = safeUrl(src.slice(i, end));
      if (href) {
        flush(i);
        push({ node: link(href, src.slice(i, end)) });
        i = end;
        textFrom = i;
      } else i++;
    } else if (ch === "\n") {
      flush(i);
      push({ node: el("br") });
      i++;
      textFrom = i;
    } else i++;
  }
  flush(n);
  pairDelimiters(head);
  appendItems(parent, head, null);
}

// A run of * _ or ~ and whether it can open and/or close emphasis. "_" follows CommonMark's
// flanking rules, so inside a word it does neither and snake_case stays plain. "*" and "~~" only
// need no space on the inner side: CommonMark's punctuation rule would leave "**Note:**text" and
// "**重要：**です" (common in model output) unrendered. "~" only counts doubled (~~), so "~5 ms"
// stays text.
function delimiter(src, i, len) {
  const ch = src[i];
  const before = src[i - 1] || "\n", after = src[i + len] || "\n";
  const wsBefore = WHITESPACE.test(before), wsAfter = WHITESPACE.test(after);
  let open = !wsAfter, close = !wsBefore;
  if (ch === "_") {
    const pBefore = PUNCTUATION.test(before), pAfter = PUNCTUATION.test(after);
    const left = !wsAfter && (!pAfter || wsBefore || pBefore);
    const right = !wsBefore && (!pBefore || wsAfter || pAfter);
    open = left && (!right || pBefore);
    close = right && (!left || pAfter);
  } else if (ch === "~" && len !== 2) open = close = false;
  return { ch, count: len, open, close, pos: i };
}

function pairDelimiters(head) {
  const openers = { "*": [], "_": [], "~": [] };
  for (let d = head; d; d = d.next) {
    if (!d.ch) continue;
    const stack = openers[d.ch];
    while (d.close && d.count > 0) {
      while (stack.length && stack[stack.length - 1].count === 0) stack.pop();
      const o = stack[stack.length - 1];
      if (!o) break;
      const use = d.ch === "~" ? 2 : o.count >= 2 && d.count >= 2 ? 2 : 1;
      const wrapper = el(d.ch === "~" ? "del" : use === 2 ? "strong" : "em");
      // Openers of other kinds inside the pair can no longer match: they become text.
      for (const other of Object.values(openers)) {
        while (other !== stack && other.length && other[other.length - 1].pos > o.pos) other.pop();
      }
      appendItems(wrapper, o.next, d);
      const node = { node: wrapper, prev: o, next: d };
      o.next = node;
      d.prev = node;
      o.count -= use;
      d.count -= use;
    }
    if (d.open && d.count > 0) stack.push(d);
  }
}

// Appends the items from `first` up to (not including) `stop` to `parent`, joining adjacent
// text and unpaired delimiters into one text node.
function appendItems(parent, first, stop) {
  let text = "";
  for (let item = first; item && item !== stop; item = item.next) {
    if (item.node) {
      if (text) parent.appendChild(document.createTextNode(text));
      text = "";
      parent.appendChild(item.node);
    } else text += item.ch ? item.ch.repeat(item.count) : item.text;
  }
  if (text) parent.appendChild(document.createTextNode(text));
}

function backtickRuns(src) {
  const runs = new Map();
  for (let i = src.indexOf("`"); i >= 0; i = src.indexOf("`", i)) {
    let len = 1;
    while (src[i + len] === "`") len++;
    if (!runs.has(len)) runs.set(len, []);
    runs.get(len).push(i);
    i += len;
  }
  return runs;
}

function matchBrackets(src) {
  const pairs = new Map(), stack = [];
  for (let i = 0; i < src.length; i++) {
    if (src[i] === "\\") i++;
    else if (src[i] === "[") stack.push(i);
    else if (src[i] === "]" && stack.length) pairs.set(stack.pop(), i);
  }
  return pairs;
}

// For a "]" at labelEnd followed by "(url "title")", the url and the index after ")"; else null.
function linkEnd(src, labelEnd) {
  if (labelEnd === undefined || src[labelEnd + 1] !== "(") return null;
  const limit = Math.min(src.length, labelEnd + 2 + MAX_URL);
  let i = labelEnd + 2;
  while (i < limit && /[ \t\n]/.test(src[i])) i++;
  let url;
  if (src[i] === "<") {
    const close = indexWithin(src, ">", i, limit);
    if (close < 0 || src.slice(i, close).includes("\n")) return null;
    url = src.slice(i + 1, close);
    i = close + 1;
  } else {
    const start = i;
    let depth = 0;
    for (; i < limit && !/\s/.test(src[i]); i++) {
      // "](" cannot plausibly be part of a URL but starts the next link: stopping there keeps
      // runs of broken links ("[a](x[b](x...") linear.
      if (src[i] === "]" && src[i + 1] === "(") return null;
      if (src[i] === "\\") i++;
      else if (src[i] === "(") depth++;
      else if (src[i] === ")" && depth-- === 0) break;
    }
    url = src.slice(start, i);
  }
  while (i < limit && /[ \t\n]/.test(src[i])) i++;
  const q = src[i];
  if (q === '"' || q === "'" || q === "(") {              // an optional title, which we ignore
    const close = indexWithin(src, q === "(" ? ")" : q, i + 1, Math.min(limit, i + MAX_TITLE));
    if (close < 0) return null;
    i = close + 1;
    while (i < limit && /[ \t\n]/.test(src[i])) i++;
  }
  if (src[i] !== ")") return null;
  return { labelEnd, url: url.replace(/\\([!-\/:-@\[-`{-~])/g, "$1"), end: i + 1 };
}

// Like indexOf, but looks no further than `limit` (so failed links cost at most MAX_URL each).
function indexWithin(src, ch, from, limit) {
  for (let i = from; i < limit; i++) if (src[i] === ch) return i;
  return -1;
}

// End of a bare URL at i: up to whitespace or "<", without trailing punctuation or an
// unbalanced ")" (so "see (https://x.org/a)." links just the URL), as GFM does.
function bareUrlEnd(src, i) {
  let end = i;
  let open = 0, close = 0;
  while (end < src.length && end - i < MAX_URL && !/[\s<]/.test(src[end])) {
    if (src[end] === "(") open++;
    else if (src[end] === ")") close++;
    end++;
  }
  for (;;) {
    const last = src[end - 1];
    if (TRAILING_URL_PUNCT.includes(last)) end--;
    else if (last === ")" && close > open) { end--; close--; }
    else return end;
  }
}
