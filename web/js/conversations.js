// Conversations kept in this browser (IndexedDB, one record per conversation), and their
// export/import as one JSON file.

const DB_NAME = "nagare";
const STORE = "conversations";
export const EXPORT_FORMAT = "nagare-conversations";

let dbPromise = null;

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

async function run(mode, work) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export function newConversation(model) {
  const now = Date.now();
  return {
    id: crypto.randomUUID ? crypto.randomUUID() : `${now}-${Math.random().toString(16).slice(2)}`,
    title: "New chat",
    model: model || "",
    system: "",
    settings: { temperature: null, top_p: null, max_tokens: null, seed: null, extra: "" },
    messages: [],
    created: now,
    updated: now,
  };
}

// Newest first.
export async function listConversations() {
  const all = await run("readonly", (s) => s.getAll());
  return (all || []).sort((a, b) => b.updated - a.updated);
}

export function saveConversation(c) {
  return run("readwrite", (s) => s.put(c));
}

export function deleteConversation(id) {
  return run("readwrite", (s) => s.delete(id));
}

export async function exportJson() {
  const conversations = await listConversations();
  return JSON.stringify({ format: EXPORT_FORMAT, version: 1, conversations }, null, 2);
}

// Checks every conversation before storing any, so a bad file changes nothing. Returns how many
// were imported; throws Error with the reason for a file that is not an export.
export async function importJson(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error("the file is not JSON");
  }
  const list = Array.isArray(data) ? data : data && data.conversations;
  if (!Array.isArray(list)) throw new Error(`the file is not a ${EXPORT_FORMAT} export`);
  const clean = list.map((c, i) => {
    if (!c || typeof c !== "object" || !Array.isArray(c.messages))
      throw new Error(`conversation ${i + 1} has no messages list`);
    const messages = c.messages.map((m, j) => {
      if (!m || !["user", "assistant"].includes(m.role) || typeof m.content !== "string")
        throw new Error(`conversation ${i + 1}, message ${j + 1}: needs a role (user or assistant) and text content`);
      const out = { role: m.role, content: m.content };
      if (m.figures && typeof m.figures === "object") out.figures = m.figures;
      if (typeof m.error === "string") out.error = m.error;
      return out;
    });
    const base = newConversation(typeof c.model === "string" ? c.model : "");
    return {
      ...base,
      id: typeof c.id === "string" && c.id ? c.id : base.id,
      title: typeof c.title === "string" && c.title ? c.title : base.title,
      system: typeof c.system === "string" ? c.system : "",
      settings: { ...base.settings, ...(c.settings && typeof c.settings === "object" ? c.settings : {}) },
      messages,
      created: Number(c.created) || base.created,
      updated: Number(c.updated) || base.updated,
    };
  });
  for (const c of clean) await saveConversation(c);
  return clean.length;
}
