// The chat page: conversations with any model the server lists, streamed over the OpenAI API
// (/v1/chat/completions with stream: true), kept in this browser's IndexedDB.
import { apiFetch, apiKey, errorMessage, ServerStatus, setApiKey } from "./api.js";
import {
  deleteConversation, exportJson, importJson, listConversations, newConversation, saveConversation,
} from "./conversations.js";
import { renderMarkdown } from "./markdown.js";
import { sseEvents } from "./sse.js";

const $ = (id) => document.getElementById(id);

// No real text averages more than a few bytes per token; beyond this many bytes per token of
// the model's context a message cannot fit, and is refused here rather than sent.
const MAX_BYTES_PER_TOKEN = 16;

const state = {
  conversations: [],
  current: null,         // the conversation shown
  models: [],            // [{id, max_model_len?}]
  request: null,         // {controller, message} while an answer streams
};

const status = new ServerStatus($("server-banner"), () => loadModels());

// ---- Models ---------------------------------------------------------------------------------

async function loadModels() {
  let response;
  try {
    response = await apiFetch("/v1/models");
  } catch {
    status.check();
    return;
  }
  if (!response.ok) {
    $("composer-error").textContent = await errorMessage(response);
    return;
  }
  const body = await response.json();
  state.models = body.data || [];
  const select = $("model");
  const wanted = (state.current && state.current.model) || select.value;
  select.replaceChildren();
  for (const m of state.models) select.append(new Option(m.id, m.id));
  if (wanted && !state.models.some((m) => m.id === wanted)) select.append(new Option(`${wanted} (not listed)`, wanted));
  if (wanted) select.value = wanted;
  if (state.current && !state.current.model) state.current.model = select.value;
  if ($("composer-error").textContent.startsWith("401")) $("composer-error").textContent = "";
}

function contextOf(model) {
  const m = state.models.find((x) => x.id === model);
  return m && m.max_model_len ? m.max_model_len : 0;
}

// ---- Conversations --------------------------------------------------------------------------

async function refreshList() {
  state.conversations = await listConversations();
  const list = $("conversations");
  list.replaceChildren();
  for (const c of state.conversations) {
    const li = document.createElement("li");
    if (state.current && c.id === state.current.id) li.className = "current";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open";
    open.textContent = c.title;
    open.title = c.title;
    open.addEventListener("click", () => select(c.id));
    const del = document.createElement("button");
    del.type = "button";
    del.className = "delete";
    del.textContent = "✕";
    del.setAttribute("aria-label", `Delete conversation ${c.title}`);
    del.addEventListener("click", async () => {
      await deleteConversation(c.id);
      if (state.current && state.current.id === c.id) state.current = null;
      await refreshList();
      if (!state.current) await select(state.conversations[0] ? state.conversations[0].id : null);
    });
    li.append(open, del);
    list.append(li);
  }
}

async function select(id) {
  if (state.request) stop();
  const found = id && state.conversations.find((c) => c.id === id);
  state.current = found || newConversation($("model").value);
  if (state.current.model) $("model").value = state.current.model;
  showSettings();
  renderMessages();
  await refreshList();
}

async function save() {
  state.current.updated = Date.now();
  await saveConversation(state.current);
  await refreshList();
}

// ---- Settings -------------------------------------------------------------------------------

const numberFields = { temperature: "temperature", "top-p": "top_p", "max-tokens": "max_tokens", seed: "seed" };

function showSettings() {
  const c = state.current;
  $("system-prompt").value = c.system || "";
  for (const [id, key] of Object.entries(numberFields)) $(id).value = c.settings[key] ?? "";
  $("extra-params").value = c.settings.extra || "";
  $("settings-error").textContent = "";
}

function readSettings() {
  const c = state.current;
  c.system = $("system-prompt").value;
  for (const [id, key] of Object.entries(numberFields)) {
    const v = $(id).value.trim();
    c.settings[key] = v === "" ? null : Number(v);
  }
  c.settings.extra = $("extra-params").value;
}

// The request fields the settings give; throws Error for "More request fields" that are not a
// JSON object.
function requestFields(c) {
  const out = {};
  for (const key of Object.values(numberFields)) if (c.settings[key] !== null && c.settings[key] !== undefined) out[key] = c.settings[key];
  const extra = (c.settings.extra || "").trim();
  if (extra) {
    let parsed;
    try {
      parsed = JSON.parse(extra);
    } catch (e) {
      throw new Error(`More request fields is not JSON: ${e.message}`);
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("More request fields must be a JSON object");
    Object.assign(out, parsed);
  }
  return out;
}

// ---- Messages -------------------------------------------------------------------------------

function figuresText(f) {
  const parts = [];
  if (f.prompt_tokens !== undefined) parts.push(`${f.prompt_tokens} prompt tokens` + (f.cached_tokens ? ` (${f.cached_tokens} cached)` : ""));
  if (f.completion_tokens !== undefined) parts.push(`${f.completion_tokens} tokens`);
  if (f.ttft_ms !== undefined) parts.push(`TTFT ${Math.round(f.ttft_ms)} ms`);
  if (f.tokens_per_s) parts.push(`${f.tokens_per_s.toFixed(1)} tokens/s`);
  if (f.finish_reason && f.finish_reason !== "stop") parts.push(`ended: ${f.finish_reason}`);
  return parts.join(" · ");
}

function actionButton(label, text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

function messageView(m, index) {
  const c = state.current;
  const el = document.createElement("article");
  el.className = `message ${m.role}`;
  el.dataset.index = String(index);
  el.dataset.state = m.state || (m.error ? "error" : "done");
  const role = document.createElement("div");
  role.className = "role";
  role.textContent = m.role === "user" ? "You" : c.model || "Assistant";
  const content = document.createElement("div");
  content.className = m.role === "assistant" ? "content md" : "content";
  if (m.role === "assistant") renderMarkdown(m.content, content);
  else content.textContent = m.content;
  el.append(role, content);
  if (m.error) {
    const err = document.createElement("p");
    err.className = "error-text";
    err.setAttribute("role", "alert");
    err.textContent = m.error;
    el.append(err);
  }
  if (m.figures) {
    const f = document.createElement("div");
    f.className = "figures";
    f.textContent = figuresText(m.figures);
    el.append(f);
  }
  if (!state.request) {
    const actions = document.createElement("div");
    actions.className = "actions";
    if (m.role === "user") actions.append(actionButton("Edit and resend", "Edit", () => edit(index, el)));
    if (m.role === "assistant" && index === c.messages.length - 1)
      actions.append(actionButton("Regenerate the answer", "Regenerate", () => regenerate()));
    if (actions.childElementCount) el.append(actions);
  }
  return el;
}

function renderMessages() {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(...state.current.messages.map(messageView));
  if (atBottom || state.request) box.scrollTop = box.scrollHeight;
}

// Re-renders only the streaming answer, at most once per frame.
let frame = 0;
function renderStreaming() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const box = $("messages");
    const last = box.lastElementChild;
    const m = state.request && state.request.message;
    if (!last || !m) return;
    renderMarkdown(m.content, last.querySelector(".content"));
    box.scrollTop = box.scrollHeight;
  });
}

function edit(index, el) {
  const m = state.current.messages[index];
  const area = document.createElement("textarea");
  area.className = "edit";
  area.value = m.content;
  area.setAttribute("aria-label", "Edited message");
  const actions = document.createElement("div");
  actions.className = "actions";
  actions.append(
    actionButton("Save and resend", "Send", () => {
      const text = area.value;
      if (!text.trim()) return;
      state.current.messages = state.current.messages.slice(0, index);
      send(text);
    }),
    actionButton("Cancel editing", "Cancel", () => renderMessages()),
  );
  el.querySelector(".content").replaceWith(area);
  el.querySelector(".actions").replaceWith(actions);
  area.focus();
}

function regenerate() {
  const msgs = state.current.messages;
  if (msgs.length && msgs[msgs.length - 1].role === "assistant") msgs.pop();
  if (!msgs.length || msgs[msgs.length - 1].role !== "user") return;
  const text = msgs.pop().content;
  send(text);
}

// ---- Sending --------------------------------------------------------------------------------

function setBusy(busy) {
  $("send").hidden = busy;
  $("stop").hidden = !busy;
}

function tooLong(text, model) {
  const ctx = contextOf(model);
  if (!ctx) return "";
  const bytes = new TextEncoder().encode(text).length;
  if (bytes <= ctx * MAX_BYTES_PER_TOKEN) return "";
  return `This message is ${Math.round(bytes / 1024)} KiB: far beyond the context of ${model}, which holds ${ctx} tokens ` +
         `(a few characters each). Shorten it, or pick a model with a longer context.`;
}

async function send(text) {
  const c = state.current;
  readSettings();
  c.model = $("model").value;
  $("composer-error").textContent = "";
  $("settings-error").textContent = "";
  if (!c.model) {
    $("composer-error").textContent = "No model to send to: the server lists none.";
    return;
  }
  const refusal = tooLong(text, c.model);
  if (refusal) {
    $("composer-error").textContent = refusal;
    return;
  }
  let fields;
  try {
    fields = requestFields(c);
  } catch (e) {
    $("settings-error").textContent = e.message;
    $("settings").open = true;
    return;
  }
  if (!c.messages.length) c.title = text.replace(/\s+/g, " ").trim().slice(0, 60) || "New chat";
  c.messages.push({ role: "user", content: text });
  const message = { role: "assistant", content: "", state: "streaming" };
  const history = c.messages.filter((m) => !m.error).map((m) => ({ role: m.role, content: m.content }));
  c.messages.push(message);
  const controller = new AbortController();
  state.request = { controller, message };
  setBusy(true);
  renderMessages();
  await save();

  const messages = c.system.trim() ? [{ role: "system", content: c.system }, ...history] : history;
  const body = { model: c.model, messages, stream: true, stream_options: { include_usage: true }, ...fields };
  const started = performance.now();
  let first = 0;
  const figures = {};
  try {
    const response = await apiFetch("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) {
      message.error = await errorMessage(response);
      if (response.status === 503) status.check();
    } else {
      for await (const chunk of sseEvents(response)) {
        if (chunk.error) {
          message.error = chunk.error.message || String(chunk.error);
          break;
        }
        const choice = chunk.choices && chunk.choices[0];
        const delta = choice && choice.delta && choice.delta.content;
        if (delta) {
          if (!first) first = performance.now();
          message.content += delta;
          renderStreaming();
        }
        if (choice && choice.finish_reason) figures.finish_reason = choice.finish_reason;
        if (chunk.usage) {
          figures.prompt_tokens = chunk.usage.prompt_tokens;
          figures.completion_tokens = chunk.usage.completion_tokens;
          const details = chunk.usage.prompt_tokens_details;
          figures.cached_tokens = details ? details.cached_tokens || 0 : 0;
        }
      }
    }
  } catch (e) {
    if (e.name === "AbortError") figures.finish_reason = "stopped";
    else {
      message.error = "The server cannot be reached: the answer was cut off.";
      status.check();
    }
  }
  const ended = performance.now();
  if (first) {
    figures.ttft_ms = first - started;
    const n = figures.completion_tokens;
    if (n > 1 && ended > first) figures.tokens_per_s = (n - 1) / ((ended - first) / 1000);
  }
  if (Object.keys(figures).length) message.figures = figures;
  delete message.state;
  if (figures.finish_reason === "stopped") message.state = "stopped";
  state.request = null;
  setBusy(false);
  renderMessages();
  await save();
  if (!contextOf(c.model)) loadModels();  // a store model just loaded now states its context
}

function stop() {
  if (state.request) state.request.controller.abort();
}

// ---- Wiring ---------------------------------------------------------------------------------

function submitPrompt() {
  const text = $("prompt").value;
  if (!text.trim() || state.request) return;
  $("prompt").value = "";
  send(text).catch((e) => ($("composer-error").textContent = String(e)));
}

// An IME (Japanese, Chinese, ...) uses Enter to accept a conversion: that Enter must not send.
// Chrome and Firefox mark it isComposing (keyCode 229); Safari ends the composition just before
// the keydown, so an Enter right after compositionend is taken as part of it too.
let composing = false;
let compositionEndedAt = 0;
$("prompt").addEventListener("compositionstart", () => (composing = true));
$("prompt").addEventListener("compositionend", () => {
  composing = false;
  compositionEndedAt = performance.now();
});
$("prompt").addEventListener("keydown", (e) => {
  if (e.key !== "Enter" || e.shiftKey) return;
  if (e.isComposing || e.keyCode === 229 || composing || performance.now() - compositionEndedAt < 50) return;
  e.preventDefault();
  submitPrompt();
});
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  submitPrompt();
});
$("stop").addEventListener("click", stop);
$("new-chat").addEventListener("click", () => select(null));
$("model").addEventListener("change", () => {
  state.current.model = $("model").value;
  if (state.current.messages.length) save();
});
for (const id of ["system-prompt", "temperature", "top-p", "max-tokens", "seed", "extra-params"])
  $(id).addEventListener("change", () => {
    readSettings();
    if (state.current.messages.length) save();
  });
$("api-key").value = apiKey();
$("api-key-form").addEventListener("submit", (e) => {
  e.preventDefault();  // Enter in the key field saves it (the change event), never reloads the page
  $("api-key").dispatchEvent(new Event("change"));
});
$("api-key").addEventListener("change", () => {
  setApiKey($("api-key").value);
  loadModels();
});
$("export").addEventListener("click", async () => {
  const blob = new Blob([await exportJson()], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `nagare-conversations-${new Date().toISOString().slice(0, 10)}.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
});
$("import-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file) return;
  try {
    const n = await importJson(await file.text());
    $("sidebar-status").textContent = `Imported ${n} conversation${n === 1 ? "" : "s"}.`;
    await refreshList();
  } catch (err) {
    $("sidebar-status").textContent = `Not imported: ${err.message}.`;
  }
});

async function start() {
  await status.check();
  await loadModels();
  await refreshList();
  await select(state.conversations[0] ? state.conversations[0].id : null);
  document.body.dataset.ready = "1";  // for tests: the page has loaded its models and conversations
  // Notice a server that went away while the page sat idle (status retries by itself once down).
  setInterval(() => {
    if (!status.down && document.visibilityState === "visible") status.check();
  }, 10000);
}
start();
