"""Headless Chromium (Debian's chromium + chromium-driver) driven by Selenium, for the web page
tests: start a browser, wait for a condition in the page, emulate the system's colour scheme,
and the page-side checks for contrast and control labels."""
import os
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = os.environ.get("NAGARE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NAGARE_CHROMEDRIVER", "/usr/bin/chromedriver")
HANG_S = 120  # only stops a hung wait; never a pass/fail criterion


def start_browser(download_dir: Path):
    o = Options()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860",
              "--lang=en-US", "--disable-gpu"):
        o.add_argument(a)
    o.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                        "download.prompt_for_download": False})
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Service with the path given: Selenium Manager would otherwise try to download a driver.
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)


def wait_until(driver, script, *args, timeout=HANG_S, what="the page condition"):
    """Runs `script` (a JS function body that returns a value) until it returns something truthy;
    returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def set_color_scheme(driver, scheme):
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-color-scheme", "value": scheme}]})


def script_errors(driver):
    """Console entries that are script errors or CSP violations (network lines such as a refused
    request the test provoked are not)."""
    return [e for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and e.get("source") != "network"]


# WCAG 2 contrast of every visible piece of text (and form control) against the background it
# is drawn on: returns the ones under 4.5:1 (3:1 for large text). Disabled controls are exempt,
# as WCAG exempts inactive components.
CONTRAST_JS = r"""
function rgba(s) {
  const m = s.match(/rgba?\(([^)]+)\)/);
  if (!m) return [0, 0, 0, 0];
  const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function over(top, bottom) {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
}
function background(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) layers.push(c);
    if (c[3] >= 1) break;
  }
  let bg = [255, 255, 255, 1];
  if (layers.length && layers[layers.length - 1][3] >= 1) bg = layers.pop();
  while (layers.length) bg = over(layers.pop(), bg);
  return bg;
}
function lum(c) {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
}
function ratio(a, b) {
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}
const bad = [];
let checked = 0;
for (const el of document.querySelectorAll("body *")) {
  if (el.closest("[hidden]") || el.disabled || el.closest("button:disabled")) continue;
  const style = getComputedStyle(el);
  if (style.visibility === "hidden" || style.display === "none" || !el.getClientRects().length) continue;
  const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const control = ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName) && el.type !== "file" && (el.value || el.tagName === "SELECT");
  if (!ownText && !control) continue;
  if (el.classList.contains("visually-hidden") || el.closest(".visually-hidden")) continue;
  const fg = over(rgba(style.color), background(el));
  const r = ratio(fg, background(el));
  const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
  const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  checked++;
  if (r < need) bad.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className} "${(el.textContent || el.value || "").trim().slice(0, 30)}" ${r.toFixed(2)}:1 < ${need}`);
}
return {checked, bad};
"""

# Every control a person can operate has an accessible name: a <label for>, a wrapping label,
# aria-label / aria-labelledby, or (buttons, links) its text.
UNLABELLED_JS = r"""
const out = [];
for (const el of document.querySelectorAll("input, select, textarea, button, a[href]")) {
  if (el.type === "hidden") continue;
  const name = (el.getAttribute("aria-label") || "").trim()
    || (el.getAttribute("aria-labelledby") && document.getElementById(el.getAttribute("aria-labelledby"))?.textContent.trim())
    || (el.labels && [...el.labels].map((l) => l.textContent.trim()).join(" ").trim())
    || (["BUTTON", "A"].includes(el.tagName) && el.textContent.trim());
  if (!name) out.push(el.outerHTML.slice(0, 120));
}
return out;
"""
