// Syntax highlighting for the code blocks of the chat. The code is model output, so it is never
// parsed as HTML: the result is built from text nodes and <span class="hl-..."> elements whose
// content is set with textContent. Each language family has a small single-pass scanner that
// walks the text once, character by character (no backtracking regexes), so it stays linear on
// large inputs, and any bug falls back to plain text rather than throwing into the renderer.

const words = (s) => new Set(s.split(/\s+/).filter(Boolean));

const CLIKE_KEYWORDS = words(`
  abstract as async await auto bool boolean break byte case catch char class const constexpr
  continue crate debugger decltype def default defer delete do double dyn else enum explicit export
  extends extern false final finally float fn for foreach friend fun func function go goto guard if
  impl implements import in inline instanceof int interface internal is let long loop match
  mod module move mut namespace new nil noexcept null nullptr object of operator override package
  private protected pub public readonly ref register return self Self short signed sizeof
  static struct super switch template this throw throws trait true try type typedef typeof typename
  uint union unsafe unsigned use using val var virtual void volatile when where while with yield
  string i8 i16 i32 i64 u8 u16 u32 u64 usize isize f32 f64 echo require include namespace elif
  undefined let fallthrough chan range`);
const PYTHON_KEYWORDS = words(`
  False None True and as assert async await break class continue def del elif else except finally
  for from global if import in is lambda nonlocal not or pass raise return try while with yield
  match case self`);
const SHELL_KEYWORDS = words(`
  if then else elif fi for while until do done case esac function in select return export local
  readonly declare unset shift exit break continue source alias echo cd sudo time`);
const SQL_KEYWORDS = words(`
  select from where insert into values update set delete create table drop alter add column index
  primary key foreign references not null default unique and or in is like between join inner left
  right outer full cross on as group by order having limit offset union all distinct case when then
  else end exists view trigger begin commit rollback transaction if asc desc count sum avg min max
  with returning integer int varchar text boolean real float date timestamp serial bigint char true
  false database schema grant revoke replace using`);
const LITERAL_KEYWORDS = words("true false null yes no on off True False None");

// Words after which the next identifier is the name of something being defined.
const TITLE_AFTER = words("class struct enum interface trait def fn func function type union impl");

// Per-family scanner settings. quotes: characters that open strings; multiline: those whose
// strings may span lines (others stop at the end of the line, so an unclosed quote in a
// comment-less line does not colour the rest of the block); raw: those without backslash escapes.
const FAMILIES = {
  clike: { line: ["//"], block: true, quotes: "\"'`", multiline: "`", raw: "", keywords: CLIKE_KEYWORDS,
           titles: true, identExtra: "$" },
  python: { line: ["#"], quotes: "\"'", multiline: "", raw: "", keywords: PYTHON_KEYWORDS, titles: true,
            triple: true, decorators: true },
  shell: { line: ["#"], hashAfterSpace: true, quotes: "\"'", multiline: "\"'", raw: "'",
           keywords: SHELL_KEYWORDS, identExtra: "-./" },
  json: { line: ["//"], block: true, quotes: "\"", multiline: "", raw: "", keywords: LITERAL_KEYWORDS,
          jsonKeys: true },
  sql: { line: ["--"], block: true, quotes: "'\"`", multiline: "'", raw: "'\"`", keywords: SQL_KEYWORDS,
         caseInsensitive: true },
  config: { line: ["#"], hashAfterSpace: true, quotes: "\"'", multiline: "", raw: "'",
            keywords: LITERAL_KEYWORDS, quoteAfterBoundary: true, sections: true },
};

const LANG_FAMILY = new Map();
const addLangs = (family, names) => names.split(" ").forEach((n) => LANG_FAMILY.set(n, family));
addLangs("clike", "c cpp c++ h hpp cc cxx java js javascript jsx mjs ts typescript tsx go golang rust rs " +
                  "cs csharp c# kotlin kt swift php cuda cu");
addLangs("python", "py python python3");
addLangs("shell", "sh bash zsh shell console shell-session fish ps1 powershell");
addLangs("json", "json jsonc json5");
addLangs("sql", "sql mysql postgres postgresql sqlite");
addLangs("config", "yaml yml toml ini cfg conf dotenv env properties");
addLangs("markup", "html xml svg xhtml htm vue");
const PREPROCESSOR_LANGS = new Set(["c", "cpp", "c++", "h", "hpp", "cc", "cxx", "cs", "csharp", "c#", "cuda", "cu"]);

// Appends the highlighted `code` to `codeEl`. Unknown or empty languages give one text node.
export function highlightInto(code, lang, codeEl) {
  const text = code == null ? "" : String(code);
  const name = String(lang || "").trim().toLowerCase();
  const family = LANG_FAMILY.get(name);
  try {
    const out = new Output(text);
    if (family === "markup") scanMarkup(text, out);
    else if (family) scanCode(text, { ...FAMILIES[family], lang: name }, out);
    codeEl.appendChild(out.finish());
  } catch (err) {
    // A scanner bug must never lose the code or break the message: show it unhighlighted.
    codeEl.appendChild(document.createTextNode(text));
  }
}

// Collects the output: everything between two coloured tokens becomes one plain text node.
class Output {
  constructor(text) {
    this.text = text;
    this.frag = document.createDocumentFragment();
    this.plainFrom = 0;
  }
  span(cls, start, end) {
    if (end <= start) return;
    this.flush(start);
    const s = document.createElement("span");
    s.className = "hl-" + cls;
    s.textContent = this.text.slice(start, end);
    this.frag.appendChild(s);
    this.plainFrom = end;
  }
  flush(upTo) {
    if (upTo > this.plainFrom) this.frag.appendChild(document.createTextNode(this.text.slice(this.plainFrom, upTo)));
    this.plainFrom = upTo;
  }
  finish() {
    this.flush(this.text.length);
    return this.frag;
  }
}

const isDigit = (c) => c >= 48 && c <= 57;
const isAlpha = (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
const isSpace = (c) => c === 32 || c === 9 || c === 10 || c === 13;

// End of a number starting at i: hex/binary/octal prefixes, digit separators, a fraction, an
// exponent, and any type suffix (1.5f, 10u64, 2n) are all consumed.
function scanNumber(s, i) {
  const n = s.length;
  if (s[i] === "0" && /[xXbBoO]/.test(s[i + 1] || "")) {
    i += 2;
    while (i < n && (isDigit(s.charCodeAt(i)) || /[a-fA-F_]/.test(s[i]))) i++;
  } else {
    while (i < n && (isDigit(s.charCodeAt(i)) || s[i] === "_")) i++;
    if (s[i] === "." && isDigit(s.charCodeAt(i + 1))) {
      i++;
      while (i < n && (isDigit(s.charCodeAt(i)) || s[i] === "_")) i++;
    }
    if ((s[i] === "e" || s[i] === "E")) {
      let j = i + 1;
      if (s[j] === "+" || s[j] === "-") j++;
      if (isDigit(s.charCodeAt(j))) {
        i = j;
        while (i < n && isDigit(s.charCodeAt(i))) i++;
      }
    }
  }
  while (i < n && (isAlpha(s.charCodeAt(i)) || isDigit(s.charCodeAt(i)))) i++;
  return i;
}

// End (after the closing quote) of a string opened by the quote at i; an unclosed string ends at
// the end of its line, or of the text when it may span lines.
function scanString(s, i, quote, multiline, raw) {
  const n = s.length;
  let j = i + 1;
  while (j < n) {
    const ch = s[j];
    if (ch === "\\" && !raw) { j += 2; continue; }
    if (ch === quote) return j + 1;
    if (ch === "\n" && !multiline) return j;
    j++;
  }
  return n;
}

function scanCode(s, cfg, out) {
  const n = s.length;
  const extra = cfg.identExtra || "";
  const isWord = (c) => isAlpha(c) || isDigit(c) || (c < 128 && extra.includes(String.fromCharCode(c)));
  const preprocessor = PREPROCESSOR_LANGS.has(cfg.lang);
  const lifetimes = cfg.lang === "rust" || cfg.lang === "rs";
  let atLineStart = true;   // only whitespace so far on this line
  let expectTitle = false;  // the previous word was `class`, `def`, `fn`...
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    const ch = s[i];
    const prev = i > 0 ? s.charCodeAt(i - 1) : 10;
    if (c === 10) { atLineStart = true; i++; continue; }
    if (isSpace(c)) { i++; continue; }
    const lineStart = atLineStart;
    atLineStart = false;

    // Comments.
    if (cfg.block && ch === "/" && s[i + 1] === "*") {
      const end = s.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      out.span("comment", i, stop);
      i = stop;
      continue;
    }
    if (cfg.line.some((m) => s.startsWith(m, i)) &&
        !(cfg.hashAfterSpace && !isSpace(prev) && prev !== 59 /* ; */)) {
      const end = s.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      out.span("comment", i, stop);
      i = stop;
      continue;
    }
    if (cfg.sections && ch === ";" && lineStart) {   // ini comments
      const end = s.indexOf("\n", i);
      out.span("comment", i, end < 0 ? n : end);
      i = end < 0 ? n : end;
      continue;
    }
    if (cfg.sections && ch === "[" && lineStart) {   // [section] headers of ini/toml
      let j = i + 1;
      while (j < n && s[j] !== "]" && s[j] !== "\n") j++;
      if (s[j] === "]") { out.span("title", i, j + 1); i = j + 1; continue; }
    }
    if (preprocessor && ch === "#" && lineStart) {    // #include, #define...
      let j = i + 1;
      while (j < n && isAlpha(s.charCodeAt(j))) j++;
      out.span("keyword", i, j);
      i = j;
      while (i < n && (s[i] === " " || s[i] === "\t")) i++;
      if (s[i] === "<") {                             // #include <header>
        const end = s.indexOf(">", i);
        const nl = s.indexOf("\n", i);
        if (end > 0 && (nl < 0 || end < nl)) { out.span("string", i, end + 1); i = end + 1; }
      }
      continue;
    }
    if (cfg.decorators && ch === "@" && isAlpha(s.charCodeAt(i + 1))) {
      let j = i + 1;
      while (j < n && (isWord(s.charCodeAt(j)) || s[j] === ".")) j++;
      out.span("title", i, j);
      i = j;
      continue;
    }

    // Strings.
    if (cfg.quotes.includes(ch) && !(cfg.quoteAfterBoundary && isWord(prev))) {
      if (lifetimes && ch === "'" && isAlpha(s.charCodeAt(i + 1)) && s[i + 2] !== "'") {
        i++;                                          // a Rust lifetime ('a), not a char literal
        continue;
      }
      let stop;
      if (cfg.triple && s[i + 1] === ch && s[i + 2] === ch) {
        const end = s.indexOf(ch + ch + ch, i + 3);
        stop = end < 0 ? n : end + 3;
      } else {
        stop = scanString(s, i, ch, cfg.multiline.includes(ch), cfg.raw.includes(ch));
      }
      let cls = "string";
      if (cfg.jsonKeys) {                             // "key": is a title, "value" a string
        let j = stop;
        while (j < n && isSpace(s.charCodeAt(j))) j++;
        if (s[j] === ":") cls = "title";
      }
      out.span(cls, i, stop);
      i = stop;
      continue;
    }

    // Numbers (not the digits inside an identifier such as x86 or utf8).
    if (!isWord(prev) && (isDigit(c) || (ch === "." && isDigit(s.charCodeAt(i + 1)) && prev !== 46))) {
      const stop = scanNumber(s, i);
      out.span("number", i, stop);
      i = stop;
      continue;
    }

    // Identifiers: keywords, names being defined, and called functions.
    if ((isAlpha(c) || (c === 36 && extra.includes("$"))) && !isWord(prev)) {
      let j = i + 1;
      while (j < n && isWord(s.charCodeAt(j))) j++;
      // Python string prefixes: r"...", b'...', f"...", rb"...".
      if (cfg.triple && j - i <= 2 && /^[rbufRBUF]+$/.test(s.slice(i, j)) && (s[j] === "'" || s[j] === '"')) {
        const q = s[j];
        let stop;
        if (s[j + 1] === q && s[j + 2] === q) {
          const end = s.indexOf(q + q + q, j + 3);
          stop = end < 0 ? n : end + 3;
        } else {
          stop = scanString(s, j, q, false, false);
        }
        out.span("string", i, stop);
        i = stop;
        continue;
      }
      const word = s.slice(i, j);
      const key = cfg.caseInsensitive ? word.toLowerCase() : word;
      if (cfg.keywords.has(key)) {
        out.span("keyword", i, j);
        expectTitle = TITLE_AFTER.has(key);
      } else if (cfg.titles) {
        let k = j;
        while (k < n && (s[k] === " " || s[k] === "\t")) k++;
        if (expectTitle || s[k] === "(") out.span("title", i, j);
        expectTitle = false;
      }
      i = j;
      continue;
    }

    // Any other character is plain; punctuation ends a `class` / `def` context.
    expectTitle = false;
    i++;
  }
}

// HTML / XML: comments, tag names (titles), attribute values (strings), <!DOCTYPE> (keyword).
function scanMarkup(s, out) {
  const n = s.length;
  let i = 0;
  while (i < n) {
    const lt = s.indexOf("<", i);
    if (lt < 0) break;
    i = lt;
    if (s.startsWith("<!--", i)) {
      const end = s.indexOf("-->", i + 4);
      const stop = end < 0 ? n : end + 3;
      out.span("comment", i, stop);
      i = stop;
      continue;
    }
    let j = i + 1;
    if (s[j] === "/" || s[j] === "!" || s[j] === "?") j++;
    const nameStart = j;
    while (j < n && /[A-Za-z0-9_:.\-]/.test(s[j])) j++;
    if (j === nameStart || !/[A-Za-z]/.test(s[nameStart])) { i++; continue; }   // a lone "<"
    out.span(s[i + 1] === "!" || s[i + 1] === "?" ? "keyword" : "title", nameStart, j);
    // Attributes up to the end of the tag; quoted and unquoted values are strings.
    while (j < n && s[j] !== ">" && s[j] !== "<") {
      if (s[j] === "=") {
        j++;
        while (j < n && isSpace(s.charCodeAt(j))) j++;
        if (s[j] === '"' || s[j] === "'") {
          const end = s.indexOf(s[j], j + 1);
          const stop = end < 0 ? n : end + 1;
          out.span("string", j, stop);
          j = stop;
        } else {
          const start = j;
          while (j < n && !isSpace(s.charCodeAt(j)) && s[j] !== ">" && s[j] !== "<") j++;
          out.span("string", start, j);
        }
        continue;
      }
      j++;
    }
    i = j;
  }
}
