"""The web chat at / and the dashboard at /dashboard, served from the binary and driven in a real
browser (headless Chromium with Selenium) against the real server: streamed answers, stop
cancelling on the server, regenerate and edit, switching models (a store model beside -m),
conversations kept across reloads and exported/imported, IME composition, model output shown as
text (never run), labels and contrast in both themes, the dashboard moving under load, and the
bad cases: the server gone and back, 401/429/503 shown in the conversation, a 1 MB paste.
Screenshots of both pages in both themes go to $NAGARE_SCREENSHOTS (default build/screenshots)."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from browser import CONTRAST_JS, UNLABELLED_JS, HANG_S, script_errors, set_color_scheme, start_browser, wait_until
from conftest import ALIAS, MODEL, REQUEST_TIMEOUT_S, ROOT, _binary, launched_server

GEMMA = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
WEB = ROOT / "web"
SCREENSHOTS = Path(os.environ.get("NAGARE_SCREENSHOTS", ROOT / "build" / "screenshots"))
CTX = 1024


def serve_cmd(*extra):
    return [str(_binary()), "serve", "-m", str(MODEL), "--alias", ALIAS, "--host", "127.0.0.1",
            "--ctx-size", str(CTX), *extra]


@pytest.fixture(scope="module")
def store_env(tmp_path_factory):
    """A model store holding gemma, served beside the -m model (the picker lists both)."""
    tmp = tmp_path_factory.mktemp("webstore")
    env = dict(os.environ, NAGARE_MODELS=str(tmp / "models"))
    mf = tmp / "gemma.Modelfile"
    mf.write_text(f"FROM {GEMMA}\n")
    r = subprocess.run([str(_binary()), "create", "gemma", "-f", str(mf)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return env


@pytest.fixture(scope="module")
def server(store_env):
    with launched_server(serve_cmd("--port", "0", "--store"), store_env) as s:
        yield s


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    d = start_browser(downloads)
    yield d
    d.quit()


def open_page(driver, url, path="/", key=None):
    """Opens a page of `url` with nothing kept from earlier tests (IndexedDB, localStorage), the
    API key set when given; waits until the chat has loaded its models and conversations."""
    driver.get(url + "/ui/theme.css")  # the origin, without running the page's scripts
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        localStorage.clear();
        if (arguments[0]) localStorage.setItem("nagare.apiKey", arguments[0]);
        const r = indexedDB.deleteDatabase("nagare");
        r.onsuccess = r.onerror = r.onblocked = () => done();""", key)
    driver.get(url + path)
    if path == "/":
        wait_until(driver, "return document.body.dataset.ready", what="the chat to load")


def send(driver, text):
    box = driver.find_element(By.ID, "prompt")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def answers(driver):
    return driver.execute_script("""
        return [...document.querySelectorAll('#messages .message.assistant')].map(
            (m) => ({state: m.dataset.state, text: m.querySelector('.content').textContent,
                     error: (m.querySelector('.error-text') || {}).textContent || '',
                     figures: (m.querySelector('.figures') || {}).textContent || '',
                     role: m.querySelector('.role').textContent}));""")


def wait_answer(driver, n=1):
    """The n-th answer once it is no longer streaming."""
    wait_until(driver, "const a = document.querySelectorAll('#messages .message.assistant');"
                       "return a.length >= arguments[0] && a[arguments[0] - 1].dataset.state !== 'streaming'", n,
               what=f"answer {n} to end")
    return answers(driver)[n - 1]


def stored_messages(driver):
    """The conversations as the page keeps them in IndexedDB (the raw Markdown, not its rendering)."""
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const open = indexedDB.open("nagare");
        open.onsuccess = () => {
          const get = open.result.transaction("conversations").objectStore("conversations").getAll();
          get.onsuccess = () => { open.result.close(); done(get.result); };
        };""")


def set_settings(driver, **fields):
    driver.execute_script("document.getElementById('settings').open = true")
    for field_id, value in fields.items():
        el = driver.find_element(By.ID, field_id)
        el.clear()
        if value != "":
            el.send_keys(str(value))
        driver.execute_script("arguments[0].dispatchEvent(new Event('change'))", el)


def metric_sum(url, name, **labels):
    text = httpx.get(f"{url}/metrics", timeout=30).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def screenshot(driver, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000, f"{path} is nearly empty"
    return path


# ---- Served from the binary ----------------------------------------------------------------------

def referenced_assets():
    """Every file the pages load: src/href in the HTML, then the JS modules' imports."""
    todo = [("index.html", None), ("dashboard.html", None)]
    seen = set()
    while todo:
        name, _ = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        text = (WEB / name).read_text()
        if name.endswith(".html"):
            refs = [r[len("/ui/"):] for r in re.findall(r'(?:src|href)="(/ui/[^"]+)"', text)]
        else:
            base = Path(name).parent
            refs = [str((base / r).as_posix()).replace("js/./", "js/") for r in re.findall(r'from "\./([^"]+)"', text)]
        todo += [(r, name) for r in refs]
    return sorted(seen)


def test_pages_and_assets_are_the_embedded_files(server):
    for name in referenced_assets():
        path = {"index.html": "/", "dashboard.html": "/dashboard"}.get(name, "/ui/" + name)
        r = httpx.get(server.url + path, headers={"Accept": "text/html,*/*"}, timeout=30)
        assert r.status_code == 200, (path, r.status_code)
        assert r.content == (WEB / name).read_bytes(), f"{path} differs from web/{name}"
        kind = {"html": "text/html", "css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}[name.rsplit(".", 1)[1]]
        assert r.headers["content-type"].startswith(kind)
        assert r.headers["x-content-type-options"] == "nosniff"
        if kind == "text/html":  # nothing inline or from elsewhere may run
            assert "script-src 'self'" in r.headers["content-security-policy"]
        again = httpx.get(server.url + path, headers={"If-None-Match": r.headers["etag"], "Accept": "text/html"})
        assert again.status_code == 304 and again.content == b""


def test_root_stays_ollamas_liveness_for_clients_and_unknown_files_are_404(server):
    r = httpx.get(server.url + "/", headers={"Accept": "*/*"})
    assert r.status_code == 200 and r.text == "nagare is running"
    assert httpx.head(server.url + "/").status_code == 200
    r = httpx.get(server.url + "/ui/nothing.js")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # A path that climbs out of /ui/ is only a name that is not in the table.
    with socket.create_connection((httpx.URL(server.url).host, httpx.URL(server.url).port)) as s:
        s.sendall(b"GET /ui/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 404") and b"root:" not in reply


def test_no_webui_leaves_only_the_liveness_answer():
    with launched_server(serve_cmd("--port", "0", "--no-webui")) as s:
        r = httpx.get(s.url + "/", headers={"Accept": "text/html"})
        assert r.text == "nagare is running"
        assert httpx.get(s.url + "/dashboard").status_code == 404
        assert httpx.get(s.url + "/ui/theme.css").status_code == 404


def test_engine_requests_lists_what_runs_with_its_user(server):
    server.wait_idle()
    body = {"model": ALIAS, "messages": [{"role": "user", "content": "Count to a thousand."}],
            "stream": True, "ignore_eos": True, "max_tokens": 400, "user": "web-tester"}
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as c:
        with c.stream("POST", "/v1/chat/completions", json=body) as r:
            lines = r.iter_lines()
            while not next(lines).startswith("data: {"):
                pass
            deadline = time.monotonic() + HANG_S
            while True:  # a published list trails the engine by at most a step
                rows = httpx.get(server.url + "/v1/engine/requests").json()["data"]
                if rows and rows[0]["completion_tokens"] > 0:
                    break
                assert time.monotonic() < deadline, rows
                time.sleep(0.02)
            [row] = rows
            assert row["model"] == ALIAS and row["user"] == "web-tester" and row["state"] == "decode"
            assert row["prompt_tokens"] > 5 and row["age_s"] > 0
    server.wait_idle()
    assert httpx.get(server.url + "/v1/engine/requests").json()["data"] == []


# ---- The chat in a browser -----------------------------------------------------------------------

def test_answer_streams_in_with_its_figures(browser, server):
    open_page(browser, server.url)
    set_settings(browser, **{"temperature": 0, "max-tokens": 40, "seed": 3})
    before = server.stats()["generated_tokens"]
    send(browser, "Tell me a short story about a cat.")
    lengths = set()
    while True:  # the text grows while the state says streaming: it is not written all at once
        a = answers(browser)[-1]
        if a["state"] != "streaming":
            break
        if a["text"]:
            lengths.add(len(a["text"]))
    a = wait_answer(browser)
    assert len(lengths) >= 2, f"the answer did not arrive in pieces: {lengths}"
    assert a["state"] == "done" and a["error"] == "" and a["text"].strip()
    assert re.search(r"\d+ prompt tokens( \(\d+ cached\))? · \d+ tokens · TTFT \d+ ms · [\d.]+ tokens/s", a["figures"]), a["figures"]
    assert server.stats()["generated_tokens"] > before
    # The page sent what its settings say: the same request by the API gives the same text.
    api = httpx.post(server.url + "/v1/chat/completions", timeout=REQUEST_TIMEOUT_S, json={
        "model": ALIAS, "messages": [{"role": "user", "content": "Tell me a short story about a cat."}],
        "temperature": 0, "max_tokens": 40, "seed": 3}).json()
    assert stored_messages(browser)[0]["messages"][1]["content"] == api["choices"][0]["message"]["content"]
    assert int(re.search(r"· (\d+) tokens", a["figures"]).group(1)) == api["usage"]["completion_tokens"]
    assert script_errors(browser) == []


def test_stop_cancels_the_request_on_the_server(browser, server):
    open_page(browser, server.url)
    server.wait_idle()
    cancelled = metric_sum(server.url, "nagare:request_success_total", finished_reason="abort")
    set_settings(browser, **{"extra-params": '{"ignore_eos": true}'})  # runs until the context is full
    send(browser, "Count from one to one thousand.")
    server.wait_for(lambda s: s["running"] == 1, what="the request to run")
    wait_until(browser, "const a = document.querySelector('#messages .message.assistant .content');"
                        "return a && a.textContent.length > 0", what="some text")
    browser.find_element(By.ID, "stop").click()
    a = wait_answer(browser)
    assert a["state"] == "stopped" and a["text"] and "ended: stopped" in a["figures"]
    # Seen on the server: nothing runs, its KV blocks are back, and it ended as cancelled.
    server.wait_for(lambda s: s["running"] == 0 and s["kv_blocks_in_use"] == 0, what="the request to be freed")
    deadline = time.monotonic() + HANG_S
    while metric_sum(server.url, "nagare:request_success_total", finished_reason="abort") <= cancelled:
        assert time.monotonic() < deadline, "the server did not count the request as cancelled"
        time.sleep(0.05)
    assert browser.find_element(By.ID, "send").is_displayed()


def test_regenerate_and_edit_and_resend(browser, server):
    open_page(browser, server.url)
    set_settings(browser, **{"temperature": 1, "max-tokens": 12})
    send(browser, "Name a colour.")
    wait_answer(browser)
    generated = server.stats()["generated_tokens"]
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Regenerate the answer']").click()
    a = wait_answer(browser)
    assert a["state"] == "done"
    wait_until(browser, "return !document.querySelector('#stop').offsetParent", what="the stop button to go")
    assert server.stats()["generated_tokens"] > generated, "regenerate sent no request"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#messages .message")) == 2
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Edit and resend']").click()
    area = browser.find_element(By.CSS_SELECTOR, "textarea[aria-label='Edited message']")
    area.clear()
    area.send_keys("Name a fruit.")
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Save and resend']").click()
    wait_until(browser, "return !document.querySelector('#stop').offsetParent && "
                        "document.querySelectorAll('#messages .message.assistant').length === 1 && "
                        "document.querySelector('#messages .message.assistant').dataset.state === 'done'",
               what="the edited turn's answer")
    users = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#messages .message.user .content")]
    assert users == ["Name a fruit."]


def test_switching_models_answers_with_the_other(browser, server):
    open_page(browser, server.url)
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#model option")]
    assert ALIAS in options and "gemma:latest" in options, options
    Select(browser.find_element(By.ID, "model")).select_by_value("gemma:latest")
    set_settings(browser, **{"max-tokens": 8})
    send(browser, "Hello!")
    a = wait_answer(browser)
    assert a["state"] == "done" and a["role"] == "gemma:latest", a
    loaded = [m["name"] for m in httpx.get(server.url + "/api/ps").json()["models"]]
    assert any(n.startswith("gemma") for n in loaded), loaded
    browser.refresh()
    wait_until(browser, "return document.body.dataset.ready")
    assert Select(browser.find_element(By.ID, "model")).first_selected_option.get_attribute("value") == "gemma:latest"


def test_conversations_survive_a_reload_and_round_trip_through_export(browser, server, downloads):
    open_page(browser, server.url)
    set_settings(browser, **{"max-tokens": 8, "system-prompt": "You are terse."})
    send(browser, "What is the capital of France?")
    first = wait_answer(browser)
    raw = stored_messages(browser)[0]["messages"][1]["content"]  # the Markdown; `first` is its rendering
    browser.refresh()
    wait_until(browser, "return document.body.dataset.ready")
    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#conversations .open")]
    assert titles == ["What is the capital of France?"]
    assert answers(browser)[0]["text"] == first["text"]
    assert browser.find_element(By.ID, "system-prompt").get_attribute("value") == "You are terse."

    for f in downloads.iterdir():
        f.unlink()
    browser.find_element(By.ID, "export").click()
    deadline = time.monotonic() + HANG_S
    while not (files := [f for f in downloads.iterdir() if f.suffix == ".json"]):
        assert time.monotonic() < deadline, "no export was downloaded"
        time.sleep(0.1)
    exported = json.loads(files[0].read_text())
    assert exported["format"] == "nagare-conversations"
    assert exported["conversations"][0]["messages"][1]["content"] == raw

    browser.find_element(By.CSS_SELECTOR, "#conversations .delete").click()
    wait_until(browser, "return !document.querySelector('#conversations .open')", what="the deletion")
    bad = downloads / "bad.json"
    bad.write_text('{"conversations": [{"messages": [{"role": "robot", "content": 1}]}]}')
    browser.find_element(By.ID, "import-file").send_keys(str(bad))
    wait_until(browser, "return document.getElementById('sidebar-status').textContent.startsWith('Not imported')",
               what="the refusal")
    assert browser.find_elements(By.CSS_SELECTOR, "#conversations .open") == []
    browser.find_element(By.ID, "import-file").send_keys(str(files[0]))
    wait_until(browser, "return document.querySelectorAll('#conversations .open').length === 1", what="the import")
    browser.find_element(By.CSS_SELECTOR, "#conversations .open").click()
    wait_until(browser, "return document.querySelectorAll('#messages .message').length === 2", what="its messages")
    assert answers(browser)[0]["text"] == first["text"]


def test_enter_during_ime_composition_does_not_send(browser, server):
    open_page(browser, server.url)
    box = browser.find_element(By.ID, "prompt")
    box.click()
    # An IME composing 「にほん」: Enter accepts the conversion, and must not send.
    browser.execute_cdp_cmd("Input.imeSetComposition", {"text": "にほん", "selectionStart": 3, "selectionEnd": 3})
    browser.execute_cdp_cmd("Input.dispatchKeyEvent", {"type": "rawKeyDown", "key": "Enter", "code": "Enter",
                                                       "windowsVirtualKeyCode": 229})
    browser.execute_cdp_cmd("Input.insertText", {"text": "日本"})
    browser.execute_cdp_cmd("Input.dispatchKeyEvent", {"type": "keyUp", "key": "Enter", "code": "Enter",
                                                       "windowsVirtualKeyCode": 13})
    time.sleep(0.3)
    assert browser.find_elements(By.CSS_SELECTOR, "#messages .message") == []
    assert box.get_attribute("value") == "日本"
    # The same keydown marked as part of a composition, as Chrome sends it, is ignored too.
    sent = browser.execute_script("""
        const box = document.getElementById('prompt');
        const e = new KeyboardEvent('keydown', {key: 'Enter', isComposing: true, keyCode: 229, bubbles: true, cancelable: true});
        box.dispatchEvent(e);
        return e.defaultPrevented;""")
    assert sent is False
    assert browser.find_elements(By.CSS_SELECTOR, "#messages .message") == []
    box.send_keys(Keys.ENTER)  # a plain Enter after the composition sends
    wait_answer(browser)
    assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#messages .message.user .content")] == ["日本"]
    box.send_keys("line one", Keys.SHIFT, Keys.ENTER, Keys.SHIFT, "line two")  # Shift+Enter: a new line
    assert box.get_attribute("value") == "line one\nline two"


XSS = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> [x](javascript:window.pwned=3)'


def test_model_output_is_shown_as_text_never_run(browser, server, downloads):
    open_page(browser, server.url)
    # A grammar makes the model itself write markup that would run if it were parsed as HTML.
    grammar = "root ::= " + json.dumps(XSS)
    set_settings(browser, **{"extra-params": json.dumps({"grammar": grammar, "max_tokens": 200})})
    send(browser, "Say something.")
    a = wait_answer(browser)
    assert a["state"] == "done", a
    assert "<script>window.pwned=1</script>" in a["text"] and 'onerror="window.pwned=2"' in a["text"]
    found = browser.execute_script("""
        const m = document.getElementById('messages');
        return {pwned: window.pwned === undefined ? null : window.pwned,
                elements: m.querySelectorAll('script, img, iframe, svg, object').length,
                links: [...m.querySelectorAll('a')].map((a) => a.getAttribute('href'))};""")
    assert found == {"pwned": None, "elements": 0, "links": []}
    # The same text from an imported conversation goes through the same renderer.
    path = downloads / "xss.json"
    path.write_text(json.dumps({"conversations": [{"title": "xss", "messages": [
        {"role": "user", "content": XSS}, {"role": "assistant", "content": XSS + "\n\n```html\n" + XSS + "\n```"}]}]}))
    browser.find_element(By.ID, "import-file").send_keys(str(path))
    wait_until(browser, "return document.querySelectorAll('#conversations .open').length === 2", what="the import")
    browser.find_element(By.XPATH, "//ul[@id='conversations']//button[text()='xss']").click()
    wait_until(browser, "return document.querySelector('#messages code')", what="the imported code block")
    assert browser.execute_script("return [window.pwned === undefined, document.querySelectorAll("
                                  "'#messages script, #messages img').length]") == [True, 0]
    assert script_errors(browser) == []


def rich_conversation():
    """One conversation that uses every style the page has: code with highlighting, a table, a
    link, a quote, figures and an error."""
    answer = ("## Answer\n\nHere is **bold**, *italic*, `code` and a [link](https://example.org).\n\n"
              "> a quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\n# comment\ndef f(x):\n"
              "    return \"s\" + str(42)\n```\n")
    return {"conversations": [{"title": "Styles", "messages": [
        {"role": "user", "content": "Show me everything."},
        {"role": "assistant", "content": answer,
         "figures": {"prompt_tokens": 12, "cached_tokens": 4, "completion_tokens": 30, "ttft_ms": 41, "tokens_per_s": 88.2}},
        {"role": "user", "content": "And an error?"},
        {"role": "assistant", "content": "", "error": "429 Too Many Requests — rate limit reached"}]}]}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_labels_contrast_and_screenshots(browser, server, downloads, scheme):
    set_color_scheme(browser, scheme)
    try:
        open_page(browser, server.url)
        path = downloads / "styles.json"
        path.write_text(json.dumps(rich_conversation()))
        browser.find_element(By.ID, "import-file").send_keys(str(path))
        wait_until(browser, "return document.querySelector('#conversations .open')", what="the import")
        browser.find_element(By.CSS_SELECTOR, "#conversations .open").click()
        wait_until(browser, "return document.querySelector('#messages .hl-keyword')", what="highlighted code")
        browser.execute_script("document.getElementById('settings').open = true")
        assert browser.execute_script(UNLABELLED_JS) == []
        result = browser.execute_script(CONTRAST_JS)
        assert result["checked"] > 30 and result["bad"] == [], result
        browser.execute_script("document.getElementById('settings').open = false;"
                               "document.getElementById('messages').scrollTop = 0")
        screenshot(browser, f"chat-{scheme}")

        browser.get(server.url + "/dashboard")
        wait_until(browser, "return window.nagareDashboard && window.nagareDashboard.polls >= 3", what="dashboard polls")
        assert browser.execute_script(UNLABELLED_JS) == []
        result = browser.execute_script(CONTRAST_JS)
        assert result["checked"] > 20 and result["bad"] == [], result
        assert script_errors(browser) == []
    finally:
        set_color_scheme(browser, "")


def test_dashboard_charts_move_under_load(browser, server):
    server.wait_idle()
    open_page(browser, server.url, "/dashboard")
    wait_until(browser, "return window.nagareDashboard && window.nagareDashboard.polls >= 2", what="dashboard polls")
    bench = subprocess.Popen([str(_binary()), "bench", "--url", server.url, "--model", ALIAS, "--concurrency", "4",
                              "--num-requests", "12", "--output-len", "48", "--input-len", "64"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rows_seen = 0
    try:
        while bench.poll() is None:
            rows_seen = max(rows_seen, len(browser.find_elements(By.CSS_SELECTOR, "#requests-table tbody tr")))
            time.sleep(0.2)
    finally:
        out = bench.communicate()[0]
    assert bench.returncode == 0, out
    # Two more polls after the load: the histograms have seen its requests.
    polls = browser.execute_script("return window.nagareDashboard.polls")
    wait_until(browser, "return window.nagareDashboard.polls >= arguments[0] + 2", polls, what="two more polls")
    h = browser.execute_script("return window.nagareDashboard.history")
    top = lambda name: max((p["v"] for p in h[name] if p["v"] is not None), default=0)  # noqa: E731
    assert top("running") >= 1 and top("generated_tps") > 0 and top("prompt_tps") > 0, h
    assert top("ttft_p50_ms") > 0 and top("itl_p50_ms") > 0 and top("kv_use_pct") > 0
    assert rows_seen >= 1, "the running-requests table never showed a request"
    assert script_errors(browser) == []
    for scheme in ("light", "dark"):  # the charts with the load on them
        set_color_scheme(browser, scheme)
        polls = browser.execute_script("return window.nagareDashboard.polls")
        wait_until(browser, "return window.nagareDashboard.polls > arguments[0]", polls, what="a poll")
        screenshot(browser, f"dashboard-{scheme}")
    set_color_scheme(browser, "")


# ---- Bad cases -----------------------------------------------------------------------------------

def test_a_huge_paste_is_refused_before_sending(browser, server):
    open_page(browser, server.url)
    before = metric_sum(server.url, "nagare:http_requests_total", route="/v1/chat/completions")
    browser.execute_script("document.getElementById('prompt').value = 'lorem ipsum '.repeat(90000)")  # ~1 MB
    browser.find_element(By.ID, "send").click()
    error = wait_until(browser, "return document.getElementById('composer-error').textContent",
                       what="the refusal")
    assert "context" in error and f"{CTX} tokens" in error, error
    assert browser.find_elements(By.CSS_SELECTOR, "#messages .message") == []
    assert metric_sum(server.url, "nagare:http_requests_total", route="/v1/chat/completions") == before


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_gone_then_back(browser):
    port = free_port()
    with launched_server(serve_cmd("--port", str(port))) as s:
        open_page(browser, s.url)
        s.proc.kill()
        s.proc.wait()
        s.killed_by_test = True
    send(browser, "Are you there?")
    a = wait_answer(browser)
    assert "cannot be reached" in a["error"], a
    wait_until(browser, "const b = document.getElementById('server-banner');"
                        "return !b.hidden && b.textContent.includes('cannot be reached')", what="the banner")
    with launched_server(serve_cmd("--port", str(port))):
        wait_until(browser, "return document.getElementById('server-banner').hidden", what="the banner to go")
        browser.find_element(By.CSS_SELECTOR, "button[aria-label='Regenerate the answer']").click()
        a = wait_answer(browser)
        assert a["state"] == "done" and a["error"] == "" and a["text"]


KEYS = """
[[keys]]
key = "sk-web"
user = "web"

[[keys]]
key = "sk-tight"
user = "tight"
tokens_per_minute = 5
"""


def test_refusals_are_shown_in_the_conversation(browser, tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text(KEYS)
    with launched_server(serve_cmd("--port", "0", "--api-keys", str(keys), "--max-running", "1",
                                   "--max-queue", "1")) as s:
        # The page loads without a key (it holds nothing secret) and says that one is needed.
        open_page(browser, s.url)
        assert "401" in browser.find_element(By.ID, "composer-error").text
        key = browser.find_element(By.ID, "api-key")
        key.send_keys("sk-web", Keys.TAB)
        wait_until(browser, "return document.querySelectorAll('#model option').length", what="the models")
        set_settings(browser, **{"max-tokens": 4})
        send(browser, "Hi")
        assert wait_answer(browser, 1)["error"] == ""
        key.clear()
        key.send_keys("sk-wrong", Keys.TAB)
        send(browser, "Hi again")
        assert wait_answer(browser, 2)["error"].startswith("401"), answers(browser)

        key.clear()
        key.send_keys("sk-tight", Keys.TAB)
        send(browser, "Hello")  # spends more than the key's 5 tokens a minute
        wait_answer(browser, 3)
        send(browser, "Hello?")
        assert wait_answer(browser, 4)["error"].startswith("429"), answers(browser)

        # The engine full (one running, one queued): the next request is refused with 503.
        key.clear()
        key.send_keys("sk-web", Keys.TAB)
        body = {"model": ALIAS, "messages": [{"role": "user", "content": "Go on."}], "stream": True,
                "ignore_eos": True}
        with httpx.Client(base_url=s.url, timeout=REQUEST_TIMEOUT_S,
                          headers={"Authorization": "Bearer sk-web"}) as c:
            with c.stream("POST", "/v1/chat/completions", json=body), \
                 c.stream("POST", "/v1/chat/completions", json=body):
                deadline = time.monotonic() + HANG_S
                while (st := c.get("/v1/engine/stats").json())["running"] != 1 or st["waiting"] != 1:
                    assert time.monotonic() < deadline, st
                    time.sleep(0.05)
                send(browser, "Busy?")
                assert wait_answer(browser, 5)["error"].startswith("503"), answers(browser)
        # After a refusal the page still works.
        browser.find_element(By.CSS_SELECTOR, "button[aria-label='Regenerate the answer']").click()
        assert wait_answer(browser, 5)["error"] == ""
