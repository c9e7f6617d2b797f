"""A loopback STAND-IN for the web search APIs that `nagare extract --search ...` calls, for the
end-to-end tests: it is not SearXNG, SerpApi or Brave, only answers in their JSON formats, from
results the test gives it, so the pipeline runs offline against a fixture site.

One server answers as all three, with the same data:
  - SearXNG  GET /search?q=...&format=json  (also GET /?q=...): {"query", "number_of_results",
             "results": [{"url", "title", "content", "engine", ...}], "answers", ...}; any format
             other than json gets a 403, as an instance whose settings.yml does not enable it.
             Use --search searxng:{standin.url}
  - SerpApi  GET /search.json?engine=google&q=...&num=N&api_key=KEY: {"organic_results":
             [{"position", "title", "link", "snippet"}]}; a wrong key gets a 401 with SerpApi's
             {"error": "..."}. Set NAGARE_SERPAPI_ENDPOINT={standin.serpapi_endpoint} and
             SERPAPI_API_KEY={standin.api_key}, then --search serpapi
  - Brave    GET /res/v1/web/search?q=...&count=N with X-Subscription-Token: KEY: {"type":
             "search", "web": {"results": [{"title", "url", "description"}]}}, the query's words in
             the description wrapped in <strong> as Brave does; no or a wrong token gets a 401
             with Brave's ErrorResponse. Set NAGARE_BRAVE_ENDPOINT={standin.brave_endpoint} and
             BRAVE_API_KEY={standin.api_key}, then --search brave

Usage:
    with SearchStandin({"tokyo population": [
            {"url": site + "/tokyo.html", "title": "Tokyo", "content": "Tokyo has 14 million people"}]},
            fallback=[...]) as standin:
        ... run nagare with one of the settings above ...
        assert standin.queries == ["tokyo population"]

Results are dicts with "url", "title" and "content" (the snippet; "snippet" is taken too).
Queries are looked up exactly, then with case and white space folded; a query found neither way
gets `fallback` (default: no results, as SearXNG's {"number_of_results": 0, "results": []}).
`results` may also be a function of the query. Each request is kept in `requests` (api, query,
params, headers); `queries` lists the queries in order. Setting `force_status` (and optionally
`force_body`) makes every request fail with that status, to exercise error handling.
"""
import html
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["SearchStandin"]


def _fold(q):
    return " ".join(q.split()).casefold()


class SearchStandin:
    """The stand-in server; start() / stop(), or use it as a context manager."""

    def __init__(self, results=None, fallback=None, api_key="standin-key", host="127.0.0.1"):
        self.results = results if results is not None else {}
        self.fallback = list(fallback or [])
        self.api_key = api_key
        self.requests = []  # dicts: api, query, params (first value of each), headers (lowercased names)
        self.force_status = None
        self.force_body = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _Handler)
        self._server.daemon_threads = True
        self._server.standin = self
        self._thread = None

    # --- where to point nagare -----------------------------------------------------------
    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def serpapi_endpoint(self):
        return self.url + "/search.json"

    @property
    def brave_endpoint(self):
        return self.url + "/res/v1/web/search"

    def env(self, provider):
        """The environment variables that point `provider` ("serpapi" or "brave") here."""
        if provider == "serpapi":
            return {"NAGARE_SERPAPI_ENDPOINT": self.serpapi_endpoint, "SERPAPI_API_KEY": self.api_key}
        if provider == "brave":
            return {"NAGARE_BRAVE_ENDPOINT": self.brave_endpoint, "BRAVE_API_KEY": self.api_key}
        return {}

    @property
    def queries(self):
        with self._lock:
            return [r["query"] for r in self.requests]

    # --- lifetime --------------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- data ------------------------------------------------------------------------------
    def lookup(self, query):
        if callable(self.results):
            found = self.results(query)
        else:
            found = self.results.get(query)
            if found is None:
                folded = {_fold(k): v for k, v in self.results.items()}
                found = folded.get(_fold(query))
        if found is None:
            found = self.fallback
        out = []
        for r in found:
            out.append({"url": r["url"], "title": r.get("title", ""),
                        "content": r.get("content", r.get("snippet", ""))})
        return out

    def _record(self, api, query, params, headers):
        with self._lock:
            self.requests.append({"api": api, "query": query, "params": params, "headers": headers})


def _highlight(text, query):
    """Brave's descriptions: HTML-escaped, the query's words in <strong>."""
    escaped = html.escape(text, quote=False)
    words = [re.escape(html.escape(w, quote=False)) for w in query.split() if w]
    if not words:
        return escaped
    return re.sub("(" + "|".join(words) + ")", r"<strong>\1</strong>", escaped, flags=re.IGNORECASE)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: pytest shows failures, not access logs
        pass

    def _send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body, ensure_ascii=False).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type + ("; charset=utf-8" if "json" in content_type else ""))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        standin = self.server.standin
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = params.get("q", "")
        if parts.path in ("/search", "/"):
            api = "searxng"
        elif parts.path == "/search.json":
            api = "serpapi"
        elif parts.path == "/res/v1/web/search":
            api = "brave"
        else:
            return self._send(404, "<html><body>Not Found</body></html>", "text/html")
        standin._record(api, query, params, headers)
        if standin.force_status is not None:
            body = standin.force_body if standin.force_body is not None else {"error": "forced by the test"}
            return self._send(standin.force_status, body)
        return getattr(self, "_" + api)(standin, query, params, headers)

    def _searxng(self, standin, query, params, headers):
        if params.get("format") != "json":
            # What an instance whose settings.yml leaves json out of search.formats answers.
            return self._send(403, "<html><body><h1>403 Forbidden</h1></body></html>", "text/html")
        if not query:
            return self._send(400, "<html><body>Bad Request</body></html>", "text/html")
        found = standin.lookup(query)
        results = []
        for i, r in enumerate(found):
            split = urlsplit(r["url"])
            results.append({
                "url": r["url"], "title": r["title"], "content": r["content"],
                "engine": "standin", "engines": ["standin"], "positions": [i + 1], "score": 1.0 / (i + 1),
                "category": "general", "template": "default.html", "pretty_url": r["url"],
                "parsed_url": [split.scheme, split.netloc, split.path, "", split.query, split.fragment],
            })
        self._send(200, {"query": query, "number_of_results": 0, "results": results, "answers": [],
                         "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": []})

    def _serpapi(self, standin, query, params, headers):
        if params.get("api_key") != standin.api_key:
            return self._send(401, {"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"})
        if not query:
            return self._send(400, {"error": "Missing query `q` parameter."})
        num = int(params.get("num", "10") or 10)
        found = standin.lookup(query)[:num]
        meta = {"id": "standin", "status": "Success", "json_endpoint": standin.serpapi_endpoint}
        if not found:
            return self._send(200, {"search_metadata": meta, "search_parameters": {"engine": "google", "q": query},
                                    "error": "Google hasn't returned any results for this query."})
        organic = [{"position": i + 1, "title": r["title"], "link": r["url"], "displayed_link": r["url"],
                    "snippet": r["content"]} for i, r in enumerate(found)]
        self._send(200, {"search_metadata": meta, "search_parameters": {"engine": params.get("engine", ""), "q": query},
                         "organic_results": organic})

    def _brave(self, standin, query, params, headers):
        if headers.get("x-subscription-token") != standin.api_key:
            return self._send(401, {"type": "ErrorResponse", "error": {
                "id": "standin", "status": 401, "code": "SUBSCRIPTION_TOKEN_INVALID",
                "detail": "The provided subscription token is invalid.", "meta": {}}, "time": 0})
        count = int(params.get("count", "20") or 20)
        if not query or not 1 <= count <= 20:
            return self._send(422, {"type": "ErrorResponse", "error": {
                "id": "standin", "status": 422, "code": "VALIDATION",
                "detail": "Unable to validate request parameter(s)", "meta": {}}, "time": 0})
        found = standin.lookup(query)[:count]
        web = [{"type": "search_result", "title": html.escape(r["title"], quote=False), "url": r["url"],
                "description": _highlight(r["content"], query), "is_source_local": False}
               for r in found]
        body = {"type": "search", "query": {"original": query, "more_results_available": False}}
        if web:
            body["web"] = {"type": "search", "results": web, "family_friendly": True}
        self._send(200, body)
