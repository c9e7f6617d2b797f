"""`nagare extract` end to end: a real nginx serving a fixture news site (extract_site.py), a
loopback stand-in speaking SearXNG's, SerpApi's and Brave's JSON (searxng_standin.py; the real
engines cannot be reached here), the local: index, and the model in process or behind
`nagare serve` (--url).

The test model is tiny (135M): what it writes is no test of quality. The tests check what the
pipeline guarantees whatever the model writes: every step ran, each page became clean text or a
stated reason, every citation names a real chunk whose text is in its page, nothing was fetched
that should not be, and the exit status says whether anything was extracted.
"""
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import MODEL, launched_server, _binary
from extract_site import Site
from searxng_standin import SearchStandin

GOOD = ["/news/en/bus.html", "/news/ja/bus.html", "/news/ja/library-sjis.html", "/eucjp/harbour.html"]
BAD = {  # page -> what the report must say about it
    "/big.html": "larger than",
    "/slow.html": "timed out",
    "/missing.html": "HTTP 404",
    "/loop/a": "too many redirects",
    "/bin/data.bin": "binary",
    "/allscript.html": "no text content",
    "/private/secret.html": "robots.txt",
}
BOILERPLATE = ["COOKIE-BANNER-TEXT", "NAV-MENU-NEWS", "INLINE-SCRIPT-TEXT", "TRACKING-SCRIPT-TEXT",
               "FOOTER-COPYRIGHT-TEXT", "SIDEBAR-POPULAR-TEXT"]
TIMEOUT_S = 900  # a loaded 2-core machine is slow; never a pass/fail criterion


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("site")).start()
    yield s
    s.stop()


def results(site, paths):
    return [{"url": site.url + p, "title": p, "content": "snippet of " + p} for p in paths]


def extract(tmp_path, *args, question="How does Minato City's self-driving bus run?", ok=None, env=None):
    """Runs nagare extract with small limits (one question, few facts); returns (process, report JSON)."""
    qfile = tmp_path / "questions.txt"
    if not qfile.exists():
        qfile.write_text("How long is the bus route?\n")
    out = tmp_path / "report.json"
    md = tmp_path / "report.md"
    cmd = [str(_binary()), "extract", question, "--json", str(out), "--md", str(md),
           "--facts", "2", "--report-facts", "4", "--extract-max-tokens", "256", "--merge-max-tokens", "768",
           "--fetch-timeout", "3", "--max-page-bytes", "1000000", *args]
    if os.environ.get("NAGARE_TEST_THREADS"):
        cmd += ["--threads", os.environ["NAGARE_TEST_THREADS"]]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env={**os.environ, **(env or {})})
    report = json.loads(out.read_text()) if out.exists() else None
    if ok is not None:
        assert (p.returncode == 0) == ok, f"exit {p.returncode}:\n{p.stderr[-4000:]}"
    return p, report


def fetched_markdown(site, path):
    """The page as `nagare fetch` cleans it (the text chunks must come from)."""
    p = subprocess.run([str(_binary()), "fetch", "--json", "--allow-private", site.url + path],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[0])["markdown"]


def check_citations(report):
    """Every cited number is a listed chunk; every listed chunk is one report source."""
    ids = {s["id"] for s in report["sources"]}
    assert sorted(ids) == list(range(1, len(ids) + 1))
    for item in report["answers"] + report["facts"]:
        for s in item["sources"]:
            assert s in ids, f"citation [{s}] names no chunk: {item}"
    for f in report["facts"]:
        assert f["sources"], f"a fact without sources: {f}"
    for a in report["answers"]:
        assert a["answered"] == bool(a["answer"])
        if a["answered"]:
            assert a["sources"], f"an answer without sources: {a}"
    for e in report["extractions"]:
        assert e["source"] in ids


def anything(report):
    return any(not e.get("error") and (e["facts"] or any(e["answers"])) for e in report["extractions"])


def test_extract_in_process_end_to_end(site, tmp_path):
    pages = GOOD + list(BAD) + ["/moved"]  # /moved redirects to /news/en/bus.html: one page
    trace = tmp_path / "trace.jsonl"
    with SearchStandin({"minato bus": results(site, pages[:6]), "minato news": results(site, pages[4:])}) as st:
        p, r = extract(tmp_path, "-m", str(MODEL), "--search", f"searxng:{st.url}", "--keyword", "minato bus",
                       "--keyword", "minato news", "--questions", str(tmp_path / "questions.txt"), "--per-query", "10",
                       "--allow-private", "--trace", str(trace))
        assert st.queries == ["minato bus", "minato news"]
    assert r is not None, p.stderr
    assert p.returncode == (0 if anything(r) else 1), p.stderr[-3000:]
    assert r["keywords"] == ["minato bus", "minato news"]
    assert r["questions"] == ["How long is the bus route?"]
    assert [s["step"] for s in r["steps"]] == ["search", "fetch", "chunk", "extract", "merge"][:len(r["steps"])]

    # Each good page became chunks (the redirect is the English page again, not a second copy);
    # each bad one is in "missing" with its reason.
    urls = [s["url"] for s in r["sources"]]
    assert {u[len(site.url):] for u in urls} == set(GOOD), urls
    missing = "\n".join(r["missing"])
    for path, why in BAD.items():
        line = [m for m in r["missing"] if site.url + path in m]
        assert line and why in line[0], f"{path}: expected '{why}' in {line or missing}"
    assert not site.fetched("/private/secret.html"), "robots.txt forbids /private/"
    agents = {line.split('"')[1] for line in (site.base / "access.log").read_text().splitlines() if '"' in line}
    assert all("nagare" in a for a in agents), agents

    # Chunks are clean text of their page, decoded from Shift_JIS and EUC-JP too.
    all_text = "\n".join(s["text"] for s in r["sources"])
    assert "蔵書" in all_text and "再開発" in all_text and "運転手" in all_text
    for word in BOILERPLATE:
        assert word not in all_text
    for path in GOOD:
        page = fetched_markdown(site, path)
        for s in r["sources"]:
            if s["url"] == site.url + path:
                assert page.encode()[s["begin"]:s["end"]].decode() == s["text"]  # byte offsets
    check_citations(r)

    # The trace holds every call: one extraction per chunk (a second for a retried one), the merge.
    calls = [json.loads(line) for line in trace.read_text().splitlines()]
    extract_calls = [c for c in calls if c["step"] == "extract"]
    assert {c["id"] for c in extract_calls} == {f"extract/{s['id']}" for s in r["sources"]}
    assert len(extract_calls) == len(r["sources"]) + sum(e["attempts"] - 1 for e in r["extractions"])
    for c in extract_calls:
        assert c["schema"]["required"] == ["answers", "facts"] and c["response"]
    # The report in Markdown cites the same sources.
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# How does Minato City") and "## Sources" in md
    for s in r["sources"]:
        assert f'id="source-{s["id"]}"' in md


def test_japanese_question_plans_its_own_queries_and_rerun_hits_the_cache(site, tmp_path):
    """No --keyword: the model proposes the queries; what it proposed is what the search was asked.
    The run again with the same --cache-dir fetches nothing."""
    question = "みなと市の自動運転バスはどのように運行していますか？"
    cache = tmp_path / "cache"
    with SearchStandin(fallback=results(site, ["/news/ja/bus.html"])) as st:
        p, r = extract(tmp_path, "-m", str(MODEL), "--search", f"searxng:{st.url}", "--keywords", "2",
                       "--questions", str(tmp_path / "questions.txt"), "--allow-private", "--cache-dir", str(cache),
                       "--max-chunks", "1", question=question)
        assert r is not None, p.stderr
        assert 1 <= len(r["keywords"]) <= 2
        assert st.queries == r["keywords"]
    assert r["questions"] and r["steps"][0]["step"] == "plan"
    assert r["question"] == question
    check_citations(r)
    before = len(site.requests())
    with SearchStandin(fallback=results(site, ["/news/ja/bus.html"])) as st:
        # (Answers cut off at 16 tokens: this run is about fetching, so its LLM calls are kept short.)
        p2, r2 = extract(tmp_path, "-m", str(MODEL), "--search", f"searxng:{st.url}", "--keyword", "バス",
                         "--questions", str(tmp_path / "questions.txt"), "--allow-private", "--cache-dir", str(cache),
                         "--max-chunks", "1", "--extract-max-tokens", "16", question=question)
    assert r2 is not None, p2.stderr
    assert len(site.requests()) == before, "the re-run went to the network"
    assert [s["text"] for s in r2["sources"]] == [s["text"] for s in r["sources"][:1]]


def test_extract_against_a_server_with_url(site, tmp_path):
    cmd = [str(_binary()), "serve", "-m", str(MODEL), "--host", "127.0.0.1", "--port", "0", "--alias", "smol",
           "--ctx-size", "3072"]
    with launched_server(cmd) as server:
        models = httpx.get(server.url + "/v1/models", timeout=30).json()["data"]
        assert models[0]["max_model_len"] == 3072
        with SearchStandin(fallback=results(site, ["/news/en/bus.html"])) as st:
            p, r = extract(tmp_path, "--url", server.url, "--search", f"searxng:{st.url}", "--keyword", "bus",
                           "--questions", str(tmp_path / "questions.txt"), "--allow-private")
        assert r is not None, p.stderr
        assert r["model"].startswith(server.url + "/v1") and "smol" in r["model"]
        assert len(r["sources"]) >= 1
        check_citations(r)
        assert p.returncode == (0 if anything(r) else 1)
        # The extraction calls reached the server (and its engine is idle again).
        stats = server.wait_idle()
        assert stats["prompt_tokens"] >= sum(1 for _ in r["sources"]) * 100


def test_local_index_needs_no_network(site, tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "bus.md").write_text((Path(__file__).parent / "extract_fixtures" / "bus_en.txt").read_text())
    (docs / "sub" / "library.html").write_bytes(
        ('<html><head><meta charset="Shift_JIS"><title>図書館</title></head><body><p>'
         + (Path(__file__).parent / "extract_fixtures" / "library_ja.txt").read_text().replace("\n\n", "</p><p>")
         + "</p></body></html>").encode("cp932"))
    (docs / "notes.txt").write_text("Unrelated notes about gardening.\n")
    index = tmp_path / "docs.idx"
    p = subprocess.run([str(_binary()), "index", str(docs), "--out", str(index)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    q = subprocess.run([str(_binary()), "index", "--out", str(index), "--query", "図書館 蔵書"], capture_output=True,
                       text=True, timeout=120)
    assert q.returncode == 0 and "library.html" in q.stdout.splitlines()[0], q.stdout
    before = len(site.requests())
    p, r = extract(tmp_path, "-m", str(MODEL), "--search", f"local:{index}", "--keyword", "driverless bus route",
                   "--questions", str(tmp_path / "questions.txt"), "--per-query", "1")
    assert r is not None, p.stderr
    assert [s["url"] for s in r["sources"]][:1] == [(docs / "bus.md").resolve().as_uri()]
    assert r["steps"][1]["step"] == "fetch" and r["steps"][1]["items"] == 0
    assert len(site.requests()) == before
    check_citations(r)


# --- bad input: each gives a report that says what was missing, and exit 1 only when nothing
# could be extracted. These runs end before any extraction call, so they are quick.

def test_no_search_results(site, tmp_path):
    with SearchStandin() as st:
        p, r = extract(tmp_path, "-m", str(MODEL), "--search", f"searxng:{st.url}", "--keyword", "nothing here",
                       "--questions", str(tmp_path / "questions.txt"), ok=False)
    assert 'no search results for "nothing here"' in r["missing"]
    assert "the search found no pages: nothing to extract from" in r["missing"]
    assert r["sources"] == [] and "nothing could be extracted" in p.stderr


def test_every_fetch_failing(site, tmp_path):
    with SearchStandin(fallback=results(site, list(BAD))) as st:
        p, r = extract(tmp_path, "-m", str(MODEL), "--search", f"searxng:{st.url}", "--keyword", "k",
                       "--questions", str(tmp_path / "questions.txt"), "--per-query", "10", "--allow-private", ok=False)
    assert "no page could be fetched with text in it" in r["missing"]
    for path, why in BAD.items():
        assert any(site.url + path in m and why in m for m in r["missing"]), path


def test_private_addresses_are_refused_without_allow_private(site, tmp_path):
    before = len(site.requests())
    with SearchStandin(fallback=results(site, GOOD)) as st:
        p, r = extract(tmp_path, "-m", str(MODEL), "--search", f"searxng:{st.url}", "--keyword", "k",
                       "--questions", str(tmp_path / "questions.txt"), "--per-query", "10", ok=False)
        assert st.queries == ["k"]  # the search API the user chose may be on loopback
    for path in GOOD:
        assert any(site.url + path in m and "private address" in m for m in r["missing"]), r["missing"]
    assert len(site.requests()) == before, "a private address was fetched"


@pytest.mark.parametrize("provider", ["serpapi", "brave"])
def test_other_providers_and_their_errors(site, tmp_path, provider):
    with SearchStandin({"minato": results(site, ["/missing.html"])}) as st:
        p, r = extract(tmp_path, "-m", str(MODEL), "--search", provider, "--keyword", "minato",
                       "--questions", str(tmp_path / "questions.txt"), "--allow-private", ok=False, env=st.env(provider))
        assert st.queries == ["minato"]
        assert any(site.url + "/missing.html" in m and "HTTP 404" in m for m in r["missing"]), r["missing"]
        st.force_status = 500
        p, r = extract(tmp_path, "-m", str(MODEL), "--search", provider, "--keyword", "minato",
                       "--questions", str(tmp_path / "questions.txt"), ok=False, env=st.env(provider))
        assert any('search for "minato" failed' in m and "500" in m for m in r["missing"]), r["missing"]
    env = {k: v for k, v in os.environ.items() if k not in ("SERPAPI_API_KEY", "BRAVE_API_KEY")}
    p = subprocess.run([str(_binary()), "extract", "q", "-m", str(MODEL), "--search", provider], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 1 and ("SERPAPI_API_KEY" if provider == "serpapi" else "BRAVE_API_KEY") in p.stderr


def test_a_question_over_the_context_is_refused_with_the_limit(site, tmp_path):
    with SearchStandin(fallback=results(site, GOOD)) as st:
        p, r = extract(tmp_path, "-m", str(MODEL), "--search", f"searxng:{st.url}", "-c", "256",
                       question="Why? " * 400, ok=False)
        assert st.queries == []
    assert r is None
    assert "question is too long" in p.stderr and "context of 256 tokens" in p.stderr, p.stderr


def test_bad_arguments_are_clear_errors(tmp_path):
    cases = [
        (["extract", "q", "-m", str(MODEL)], "no search provider"),
        (["extract", "q", "--search", "urls:/nonexistent"], "no model"),
        (["extract", "q", "-m", str(MODEL), "--search", "bogus:x"], "bogus"),
        (["extract", "q", "-m", str(MODEL), "--search", "urls:/nonexistent/list.txt"], "/nonexistent/list.txt"),
        (["extract", "q", "--url", "http://127.0.0.1:1", "--search", "urls:/dev/null"], "cannot reach"),
    ]
    bad_template = tmp_path / "t.txt"
    bad_template.write_text("[extract]\n{{nope}}\n")
    cases.append((["extract", "q", "-m", str(MODEL), "--search", "urls:/dev/null", "--prompt-template", str(bad_template)],
                  "unknown placeholder {{nope}}"))
    env = {k: v for k, v in os.environ.items() if k != "NAGARE_SEARCH"}
    for args, why in cases:
        p = subprocess.run([str(_binary()), *args], capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode != 0 and why in p.stderr, f"{args}: {p.stderr}"
