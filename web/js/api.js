// What both pages need from the server: the API key (kept in this browser's localStorage and
// sent as a Bearer token), fetch with it, the API's error messages, and a banner that says when
// the server is unreachable, loading or draining, retrying until it answers again.

const KEY_STORAGE = "nagare.apiKey";

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key.trim());
  else localStorage.removeItem(KEY_STORAGE);
}

// fetch() with the API key. Rejects (TypeError) only when the server cannot be reached.
export function apiFetch(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const key = apiKey();
  if (key) headers.set("Authorization", "Bearer " + key);
  return fetch(path, { ...options, headers });
}

// A readable message for a refused request: the OpenAI error shape's message, with the status.
export async function errorMessage(response) {
  let detail = "";
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      detail = (body.error && (body.error.message || body.error)) || text;
    } catch {
      detail = text;
    }
  } catch {
    /* the body could not be read: the status says enough */
  }
  const hints = {
    401: "The server needs an API key: enter it in the API key field.",
    429: "Rate limit reached: wait and try again.",
    503: "The server is busy, loading or restarting: try again shortly.",
  };
  const parts = [`${response.status} ${response.statusText || ""}`.trim()];
  if (detail) parts.push(String(detail));
  if (hints[response.status]) parts.push(hints[response.status]);
  return parts.join(" — ");
}

// Watches /health and shows `banner` while the server is not ready. check() may be called by
// the page when a request fails to connect; while the server is down it retries every second
// or two (backing off to 5 s), and calls onBack() once it is healthy again.
export class ServerStatus {
  constructor(banner, onBack = () => {}) {
    this.banner = banner;
    this.onBack = onBack;
    this.down = false;
    this.timer = null;
    this.delay = 1000;
  }

  async check() {
    let state;
    try {
      const r = await fetch("/health", { cache: "no-store" });
      if (r.ok) state = "ok";
      else {
        const body = await r.json().catch(() => ({}));
        state = body.status || `status ${r.status}`;
      }
    } catch {
      state = "unreachable";
    }
    if (state === "ok") {
      const wasDown = this.down;
      this.down = false;
      this.delay = 1000;
      this.banner.hidden = true;
      if (wasDown) this.onBack();
      return true;
    }
    this.down = true;
    const words = {
      unreachable: "The server cannot be reached",
      loading: "The server is loading its model",
      draining: "The server is restarting",
    };
    this.banner.textContent = `${words[state] || "The server is not ready (" + state + ")"} — retrying…`;
    this.banner.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), this.delay);
    this.delay = Math.min(this.delay * 1.5, 5000);
    return false;
  }
}
