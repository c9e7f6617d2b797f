"""A fixture news site for the `nagare extract` tests, served by a real nginx on loopback.

The site holds what the open web throws at a crawler: English and Japanese news pages wrapped in
navigation, cookie banners and scripts; a Shift_JIS page that declares its charset only in a
<meta> tag; an EUC-JP page whose charset comes only from the Content-Type header; a 5 MB page; a
slow page (nginx's limit_rate); a 404; a redirect loop; a binary file; a page that is all script;
and a robots.txt that forbids /private/. nginx's access log tells the tests what was fetched.
"""
import html
import shutil
from pathlib import Path

from nginx_helper import free_port, start_nginx, stop_nginx

FIXTURES = Path(__file__).resolve().parent / "extract_fixtures"


def news_page(title, body_text, lang, charset="utf-8", meta_charset=True):
    """A news page as sites write them: the article inside boilerplate a reader never wants."""
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in body_text.strip().split("\n\n")[1:])
    meta = f'<meta charset="{charset}">' if meta_charset else ""
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head>{meta}<title>{html.escape(title)} | Minato Daily</title>
<style>body {{ font-family: sans-serif }} .cookie {{ position: fixed }}</style>
<script>window.dataLayer = [{{"event": "TRACKING-SCRIPT-TEXT"}}];</script>
</head><body>
<header class="site-header"><a href="/">Minato Daily</a>
<nav><ul><li><a href="/news/">NAV-MENU-NEWS</a></li><li><a href="/sports/">NAV-MENU-SPORTS</a></li></ul></nav></header>
<div id="cookie-banner" class="cookie">COOKIE-BANNER-TEXT We use cookies. <button>Accept</button></div>
<main><article>
<h1>{html.escape(title)}</h1>
{paragraphs}
<p>Read more: <a href="/news/related.html">related story</a></p>
</article></main>
<aside class="sidebar">SIDEBAR-POPULAR-TEXT</aside>
<footer>FOOTER-COPYRIGHT-TEXT</footer>
<script>console.log("INLINE-SCRIPT-TEXT")</script>
</body></html>
"""


class Site:
    def __init__(self, base):
        self.base = base
        self.root = base / "root"
        self.port = None
        self.proc = None
        self.texts = {}  # path -> the article's text (for checking what came out)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def write(self, rel, data):
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())

    def build(self):
        bus_en = (FIXTURES / "bus_en.txt").read_text()
        bus_ja = (FIXTURES / "bus_ja.txt").read_text()
        library = (FIXTURES / "library_ja.txt").read_text()
        harbour = (FIXTURES / "harbour_ja.txt").read_text()
        for rel, text, lang in (("news/en/bus.html", bus_en, "en"), ("news/ja/bus.html", bus_ja, "ja")):
            self.write(rel, news_page(text.split("\n")[0], text, lang))
            self.texts[rel] = text
        # Shift_JIS, declared only by the page's <meta>; nginx sends text/html with no charset.
        self.write("news/ja/library-sjis.html",
                   news_page(library.split("\n")[0], library, "ja", charset="Shift_JIS").encode("cp932"))
        self.texts["news/ja/library-sjis.html"] = library
        # EUC-JP, declared only by the Content-Type header (nginx's charset directive below).
        self.write("eucjp/harbour.html", news_page(harbour.split("\n")[0], harbour, "ja", meta_charset=False)
                   .encode("euc_jp"))
        self.texts["eucjp/harbour.html"] = harbour
        big_para = "<p>" + ("Filler sentence about nothing in particular. " * 40) + "</p>\n"
        self.write("big.html", "<html><body>" + big_para * (5_000_000 // len(big_para) + 1) + "</body></html>")
        self.write("slow.html", "<html><body><p>" + "slow " * 20000 + "</p></body></html>")
        self.write("bin/data.bin", bytes(range(256)) * 64)
        self.write("allscript.html", "<html><head><script>var a = 1;</script></head><body><script>"
                   + "document.write('x');" * 100 + "</script><noscript>enable js</noscript></body></html>")
        self.write("private/secret.html", news_page("Secret", "Secret\n\nPRIVATE-PAGE-TEXT must never be fetched.", "en"))
        self.write("robots.txt", "User-agent: *\nDisallow: /private/\n")
        self.write("docs/readme.txt", "Plain text document.\n")

    def start(self):
        if shutil.which("nginx") is None:
            raise RuntimeError("nginx not found: scripts/install-deps installs nginx-light")
        self.build()
        self.port = free_port()
        self.proc = start_nginx(
            self.base, self.port, '$request_method $uri $status $body_bytes_sent "$http_user_agent"',
            "types { text/html html; text/plain txt; application/octet-stream bin; }\n"
            "  default_type application/octet-stream;",
            f"""root {self.root};
    location /eucjp/ {{ charset EUC-JP; }}
    location = /slow.html {{ limit_rate 2k; }}
    location = /loop/a {{ return 302 /loop/b; }}
    location = /loop/b {{ return 302 /loop/a; }}
    location = /moved {{ return 301 /news/en/bus.html; }}""")
        return self

    def stop(self):
        stop_nginx(self.proc)

    def requests(self):
        """Access-log lines as (method, uri, status)."""
        path = self.base / "access.log"
        if not path.exists():
            return []
        return [tuple(line.split(" ")[:3]) for line in path.read_text().splitlines()]

    def fetched(self, uri):
        return [r for r in self.requests() if r[1] == uri]
