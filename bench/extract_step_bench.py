#!/usr/bin/env python3
"""Wall time of the extraction step (step 6 of `nagare extract`) on 20 chunks of ~1,500 tokens.

The reference write-up this feature comes from ran the step as 20 requests processed one by one
(49 s on an M3 Ultra at ~600 prompt tok/s). This script sends the same kind of requests -- the
extraction prompt of src/pipeline/prompts.cc (kExtract) filled with 20 distinct news-like chunks,
temperature 0, max_tokens 256, seed 0, the extraction step's JSON schema -- to:

  nagare-concurrent   nagare serve -m MODEL --ctx-size 4096 -t 2, all requests in flight at once
                      (what `nagare extract --parallel` does)
  nagare-sequential   the same server command, one request at a time
  lcpp-py-sequential  llama-cpp-python's server (python -m llama_cpp.server --n_ctx 4096
                      --n_threads 2), one at a time
  lcpp-py-concurrent  the same, all in flight (it serves one at a time behind a lock anyway)
  llama-server-concurrent  llama.cpp's llama-server -c 16384 -np 8 -t 2 (8 slots, continuous
                      batching), all in flight
  llama-server-sequential  the same, one at a time

Every configuration gets a fresh server process (so no prompt or response cache carries over
from an earlier run), one short warm-up request (not timed), then the timed requests. Rounds are
interleaved (round 1 of every model and configuration, then round 2, ...; the configuration order
rotates each round) so all engines see the same machine load; --ref-rounds N runs the (much slower)
llama.cpp engines in the first N rounds only. nagare's response cache is off (--cache-size 0) and
its audit log goes to a temporary file. The llama.cpp engines get OMP_WAIT_POLICY=passive (see
--omp-wait-policy): with libgomp's default spinning, 2 threads on 2 shared CPUs slow down 5-20x.

  .venv/bin/python bench/extract_step_bench.py --rounds 2 --json /tmp/extract_step.json

Needs httpx (the repository's .venv has it), llama-cpp-python with its server extras for
--llama-cpp-python (fastapi, uvicorn, sse-starlette, starlette-context, pydantic-settings) and a
llama-server binary for --llama-server; --skip-llama-cpp-python / --skip-llama-server drop them.
Each engine's completion tokens are printed because the wall time depends on them: the same model
at temperature 0 can write a different answer under each engine's grammar and chat template.

Prints a markdown table: medians over rounds of wall time, prompt and completion tokens of the 20
requests, (prompt+completion)/wall, the ratio of each wall time to nagare-concurrent's, and the
median / max per-request latency.
"""
import argparse
import atexit
import concurrent.futures
import json
import os
import pathlib
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = {
    "smollm2": ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma": ROOT / "models" / "gemma-3-270m-q4_k_m.gguf",
}

# ---------------------------------------------------------------------------------------------
# The extraction step's prompt and schema (src/pipeline/prompts.cc: kExtract, extract_schema)

KEXTRACT = """# Role
You are an editor who extracts facts from a source text. Use only the source text below, never your own knowledge.

# Task
1. For each question, write the answer the source text gives, in one or two sentences. If the text does not answer it, write "no answer".
2. List up to {{facts_n}} important facts from the text that help answer the main question. Say when, where, who, what, how and how many, with the numbers the text gives.
Write in the language of the main question. Answer with JSON only.

# Main question
{{question}}

# Questions
{{questions}}

# Source text
URL: {{url}}
Title: {{title}}
Section: {{heading}}

{{text}}"""

SCHEMA = {
    "type": "object",
    "properties": {
        "answers": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
        "facts": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 0, "maxItems": 3},
    },
    "required": ["answers", "facts"],
    "additionalProperties": False,
}

QUESTION = "How are regional cities keeping local public transport running despite the shortage of drivers?"
QUESTIONS = [
    "Which new transport services have cities and operators launched, and when did they start?",
    "How much do these services cost, and who pays for them?",
    "What problems or criticism have the new services met?",
]


def fill(template, values):
    out = template
    for k, v in values.items():
        out = out.replace("{{" + k + "}}", v)
    assert "{{" not in out, out
    return out


def questions_list(qs):  # src/pipeline/extract_pipeline.cc: questions_list
    return "".join(f"{i + 1}. {q}\n" for i, q in enumerate(qs))


# ---------------------------------------------------------------------------------------------
# Deterministic, distinct news-like chunks (style of tests/api/extract_fixtures/bus_en.txt)

CITY_A = ["Minato", "Kawanishi", "Aoba", "Shirakawa", "Hinode", "Tsurugi", "Yamabuki", "Okazaki", "Hanamura",
          "Kitahama", "Nishiura", "Fujimino", "Sakuragawa", "Midorigaoka", "Isehara", "Takanosu", "Umegaoka",
          "Kamisato", "Hoshino", "Asahikubo", "Tokiwa", "Inabe", "Mizusawa", "Kurokawa"]
CITY_B = ["City", "Town", "Port", "Valley", "Heights"]
OPERATORS = ["Shiokaze Transit", "Aozora Mobility", "Kita Bus Lines", "Hikari Railways", "Minami Motors",
             "Tsubame Transport", "Kaze Coach", "Nagisa Ferries", "Sora Shuttle", "Yamato Community Bus",
             "Hoshizora Taxi", "Rinkai Transit"]
SERVICES = ["driverless minibus", "on-demand shared taxi", "electric community bus", "night bus", "cross-town shuttle",
            "school shuttle", "demand-responsive van", "community minibus", "on-demand minivan",
            "hospital shuttle", "ride-hailing pilot", "self-driving shuttle"]
FIRST = ["Miwa", "Kenichi", "Yuki", "Haruto", "Aiko", "Daisuke", "Emi", "Takeshi", "Naomi", "Ryo", "Sachiko",
         "Hiroshi", "Mei", "Kazuo", "Rina", "Shota", "Keiko", "Jun", "Mariko", "Tomoya", "Ayaka", "Satoshi"]
LAST = ["Takahashi", "Morita", "Sato", "Ito", "Watanabe", "Nakamura", "Kobayashi", "Yamamoto", "Kato", "Yoshida",
        "Yamada", "Sasaki", "Inoue", "Kimura", "Hayashi", "Shimizu", "Mori", "Ikeda", "Hashimoto", "Ishikawa"]
ROLES = ["Mayor", "Deputy Mayor", "council member", "the president of {op}", "a transport official",
         "the head of the city's planning office", "a spokesperson for {op}", "a local shop owner",
         "a retired teacher who rides daily", "the chair of the residents' association"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
PLACES = ["the central station", "the harbour district", "the city hospital", "the university campus",
          "the old town", "the new housing estate", "the ferry terminal", "the shopping street", "city hall",
          "the industrial park", "the hot-spring quarter", "the airport", "the northern villages",
          "the riverside park"]
UNIVERSITIES = ["Harbour University", "Kita Institute of Technology", "the Prefectural University",
                "Aoba College", "the National Transport Research Institute"]

LEAD = [
    "{city} and the local operator {op} on {month} {day} began running a {service} between {p1} and {p2}, "
    "a {km}-kilometre route that had lost its regular bus {yrs} years ago.",
    "{city} has started a {service} that links {p1} with {p2}, the first service of its kind in a town of about "
    "{pop:,} people.",
    "A new {service} run by {op} went into service in {city} on {month} {day}, replacing {routes} bus routes that "
    "were closed for lack of drivers.",
    "Residents of {city} can from this month book a {service} by phone or app to travel between {p1} and {p2}, "
    "the city announced on {month} {day}.",
]
DETAIL = [
    "{veh} vehicles, each seating {seats}, run every {every} minutes from {h1} a.m. to {h2} p.m.",
    "The route has {stops} stops and takes about {mins} minutes one way.",
    "Fares are {fare} yen for adults and {cfare} yen for children, payable by transit IC card or smartphone QR code.",
    "By {h2} p.m. on the opening day {rides:,} rides had been recorded, according to {op}.",
    "In the first {weeks} weeks the service carried {riders:,} passengers, about {pct} percent more than the "
    "bus it replaced.",
    "Each vehicle carries {sensors} lidar sensors and {cams} cameras, and receives traffic-light status by radio.",
    "{ops} operators watch the fleet from a control centre near {p3} and can stop a vehicle remotely.",
    "Top speed is limited to {speed} km/h, and vehicles slow to {slow} km/h near schools.",
    "Riders must book at least {book} minutes ahead; the average wait after booking was {wait} minutes in {month2}.",
    "About {elderly} percent of the riders are over 65, and many use the service to reach {p3}.",
    "The vehicles are charged overnight at a depot near {p3} and run about {range} kilometres on one charge.",
]
COST = [
    "The project costs about {cost} million yen, {share} percent of it paid by a national subsidy.",
    "{city} pays {op} about {yearly} million yen a year to run the service, and fares cover about {cover} percent "
    "of the cost.",
    "The prefecture contributes {pref} million yen over {years} years, and the rest comes from the city budget.",
    "Buying the {veh} vehicles cost {vcost} million yen; the control system and depot added {dcost} million yen.",
    "The operator expects the service to break even in {be} years if ridership reaches {target:,} a year.",
    "Local companies, including a supermarket near {p3}, sponsor the service with {spons} million yen a year.",
]
WHY = [
    "The city acted because of a severe shortage of drivers: {op} has lost about {lost} percent of its drivers "
    "over {yrs} years and closed {routes} loss-making routes last fiscal year.",
    "The average age of bus drivers in the prefecture is {age}, and {quit} drivers retired last year while only "
    "{hired} were hired.",
    "New overtime limits for drivers that took effect in April {year} forced {op} to cut {cut} percent of its "
    "timetable.",
    "A survey by the city found that {survey} percent of residents over 70 had given up trips to {p3} because "
    "buses no longer ran.",
]
QUOTE = [
    "At the opening ceremony {who}, {role}, said the service \"can be a model for regional cities that fear "
    "losing their routes for lack of drivers.\"",
    "\"Safety comes first; we will protect how our citizens get around,\" said {who}, {role}.",
    "{who}, {role}, said the operator aims to expand to {more} routes within {years} years and reach "
    "{target:,} riders a year.",
    "\"Before, I had to ask my son to drive me to {p3}. Now I go on my own,\" said {who}, {role}.",
    "{who}, {role}, said: \"We cannot keep every route with drivers alone, so we have to try new ways.\"",
    "\"The timetable is still too thin in the evening,\" said {who}, {role}, who wants service until {late} p.m.",
]
PROBLEM = [
    "Challenges remain. During the trial, vehicles stopped an average of {stops2} times a month because they "
    "could not safely pass parked cars, and an operator had to intervene remotely each time.",
    "Because snow degrades the sensors, the service is suspended when more than {snow} centimetres of snow has "
    "fallen.",
    "Some residents complained that booking by app is hard for older people; the city added a phone line staffed "
    "{staff} hours a day.",
    "Professor {who} of {univ}, a traffic engineer, said: \"Technically it is a big step, but it needs the whole "
    "town behind it, from enforcing parking rules to maintaining the roads.\"",
    "Taxi companies criticised the plan, saying the subsidised fares take away about {taxi} percent of their "
    "daytime customers.",
    "On {month2} {day2}, a vehicle braked hard to avoid a cyclist and {hurt} passengers were slightly hurt; the "
    "service was halted for {halt} days for checks.",
    "A council report found that the service was late by more than {late2} minutes on {latepct} percent of trips "
    "in its first month.",
]
OUTLOOK = [
    "The city will decide from next {month2}, depending on ridership, whether to extend evening service to "
    "{late} p.m.",
    "{op} plans to add {more} more vehicles in {year2} and to link the service with the train timetable at {p1}.",
    "The prefecture will publish an evaluation of the trial in {month2}, and {n} other towns have asked to visit.",
    "If the next {weeks} weeks go well, the service will run on weekends too, starting in {month2}.",
]
SECTIONS = [("Background", WHY), ("How it works", DETAIL), ("Money", COST), ("Voices", QUOTE),
            ("Problems", PROBLEM), ("What next", OUTLOOK)]


def _values(rng, city, op, service):
    p1, p2, p3 = rng.sample(PLACES, 3)
    who = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return dict(
        city=city, op=op, service=service, p1=p1, p2=p2, p3=p3, who=who,
        role=rng.choice(ROLES).format(op=op), univ=rng.choice(UNIVERSITIES),
        month=rng.choice(MONTHS), month2=rng.choice(MONTHS), day=rng.randint(1, 28), day2=rng.randint(1, 28),
        km=f"{rng.randint(20, 190) / 10:.1f}", yrs=rng.randint(2, 9), years=rng.randint(2, 8),
        pop=rng.randint(12, 380) * 1000, routes=rng.randint(2, 9), veh=rng.randint(2, 12),
        seats=rng.choice([8, 10, 14, 18, 22, 28]), every=rng.choice([10, 15, 20, 30, 40, 60]),
        h1=rng.randint(5, 9), h2=rng.randint(6, 10), stops=rng.randint(5, 24), mins=rng.randint(12, 55),
        fare=rng.choice([100, 150, 200, 250, 300, 400]), cfare=rng.choice([0, 50, 100, 150]),
        rides=rng.randint(300, 4000), weeks=rng.randint(2, 12), riders=rng.randint(1500, 90000),
        pct=rng.randint(3, 80), sensors=rng.randint(2, 8), cams=rng.randint(4, 12), ops=rng.randint(1, 5),
        speed=rng.choice([19, 20, 25, 30, 35, 40]), slow=rng.choice([10, 12, 15]), book=rng.choice([15, 30, 60]),
        wait=rng.randint(5, 40), elderly=rng.randint(30, 85), range=rng.randint(80, 260),
        cost=rng.randint(120, 2400), share=rng.choice([30, 40, 50, 60, 75]), yearly=rng.randint(20, 300),
        cover=rng.randint(8, 45), pref=rng.randint(10, 500), vcost=rng.randint(50, 900), dcost=rng.randint(20, 400),
        be=rng.randint(3, 12), target=rng.randint(20, 900) * 1000, spons=rng.randint(2, 40),
        lost=rng.randint(10, 45), age=rng.randint(52, 64), quit=rng.randint(8, 90), hired=rng.randint(0, 15),
        year=rng.choice([2023, 2024, 2025]), year2=rng.choice([2026, 2027, 2028]), cut=rng.randint(5, 30),
        survey=rng.randint(10, 60), more=rng.randint(2, 6), late=rng.choice([9, 10, 11]),
        stops2=rng.randint(3, 30), snow=rng.choice([2, 3, 5, 10]), staff=rng.choice([8, 10, 12, 24]),
        taxi=rng.randint(5, 35), hurt=rng.randint(2, 5), halt=rng.randint(1, 14), late2=rng.choice([3, 5, 10]),
        latepct=rng.randint(2, 30), n=rng.randint(3, 40),
    )


def make_item(rng, city, op, service, lead):
    """One short article: one set of names and numbers, no sentence template used twice.
    Returns (heading, paragraphs as lists of sentences)."""
    v = _values(rng, city, op, service)
    paras = [[lead.format(**v)] + [t.format(**v) for t in rng.sample(DETAIL, rng.randint(3, 5))]]
    for _, pool in rng.sample(SECTIONS[:1] + SECTIONS[2:], rng.randint(3, 5)):
        paras.append([t.format(**v) for t in rng.sample(pool, min(len(pool), rng.randint(1, 3)))])
    return f"{city}: {service}", paras


def make_chunk(i, words):
    """Chunk i: a section of a regional-news roundup page, short articles on different towns, cut at
    the first sentence end after `words` words. Distinct from its first sentence on.
    Returns (url, title, heading, text)."""
    rng = random.Random(1000 + i)
    cities = [CITY_A[i % len(CITY_A)]] + rng.sample([c for c in CITY_A if c != CITY_A[i % len(CITY_A)]], 12)
    parts, n_words, k = [], 0, 0
    while n_words < words:
        city = f"{cities[k]} {rng.choice(CITY_B)}"
        service = SERVICES[(i * 5 + k * 7) % len(SERVICES)]
        head, paras = make_item(rng, city, rng.choice(OPERATORS), service, LEAD[(i + k) % len(LEAD)])
        for j, sentences in enumerate(paras):
            kept = []
            for sentence in sentences:
                if n_words >= words:
                    break
                kept.append(sentence)
                n_words += len(sentence.split())
            if kept:
                parts.append(f"## {head}\n\n" * (j == 0) + " ".join(kept))
        k += 1
    title = f"Regional transport roundup, week {i + 14}: {cities[0]}, {cities[1]} and more"
    url = f"https://news.example.org/regional/transport/roundup-{2024 + i % 2}-w{i + 14}"
    return url, title, f"Part {1 + i % 3}", "\n\n".join(parts)


def build_prompts(n, words):
    prompts = []
    for i in range(n):
        url, title, heading, text = make_chunk(i, words)
        prompts.append(fill(KEXTRACT, {"question": QUESTION, "questions": questions_list(QUESTIONS), "facts_n": "3",
                                       "url": url, "title": title, "heading": heading, "text": text}))
    assert len(set(prompts)) == n
    return prompts


# ---------------------------------------------------------------------------------------------
# Servers

_procs = []


def _kill(p):
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def _kill_all():
    while _procs:
        _kill(_procs.pop())


atexit.register(_kill_all)


def _on_signal(signum, frame):
    _kill_all()
    sys.exit(128 + signum)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, engine, cmd, port, log_path, env=None):
        self.engine, self.cmd, self.port, self.log_path = engine, cmd, port, log_path
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=env)
        _procs.append(self.proc)
        self.model_id = None

    def wait_ready(self, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.engine} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = httpx.get(self.base + "/v1/models", timeout=5)
                if r.status_code == 200 and r.json().get("data"):
                    self.model_id = r.json()["data"][0]["id"]
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.engine} not ready after {timeout} s:\n{self.log_tail()}")

    def log_tail(self, n=30):
        self.log.flush()
        try:
            return "\n".join(pathlib.Path(self.log_path).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        _kill(self.proc)
        if self.proc in _procs:
            _procs.remove(self.proc)
        self.log.close()


def start_server(engine, model, args, tmp, tag):
    port = free_port()
    t = str(args.threads)
    if engine == "nagare":
        cmd = [args.nagare, "serve", "-m", str(model), "--port", str(port), "--ctx-size", "4096", "-t", t,
               "--cache-size", "0", "--audit", f"sqlite:{tmp}/audit-{tag}.db"]
    elif engine == "lcpp-py":
        cmd = [args.llama_cpp_python, "-m", "llama_cpp.server", "--model", str(model), "--n_ctx", "4096",
               "--n_threads", t, "--n_threads_batch", t, "--port", str(port), "--host", "127.0.0.1"]
    elif engine == "llama-server":
        cmd = [args.llama_server, "-m", str(model), "-c", "16384", "-np", "8", "-t", t, "-tb", t, "--port", str(port),
               "--host", "127.0.0.1"]
    else:
        raise ValueError(engine)
    env = dict(os.environ)
    if engine != "nagare" and args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    s = Server(engine, cmd, port, f"{tmp}/{tag}.log", env)
    s.wait_ready()
    return s


# ---------------------------------------------------------------------------------------------
# Requests


def request_body(engine, model_id, prompt, max_tokens):
    body = {"model": model_id, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "temperature": 0, "seed": 0}
    if engine == "lcpp-py":  # llama-cpp-python: ChatCompletionRequestResponseFormat is text | json_object (+schema)
        body["response_format"] = {"type": "json_object", "schema": SCHEMA}
    else:
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "output", "strict": True, "schema": SCHEMA}}
    return body


def check_answer(text):
    try:
        j = json.loads(text)
    except ValueError:
        return False
    return (isinstance(j, dict) and set(j) == {"answers", "facts"} and isinstance(j["answers"], list)
            and len(j["answers"]) == 3 and all(isinstance(a, str) for a in j["answers"])
            and isinstance(j["facts"], list) and len(j["facts"]) <= 3
            and all(isinstance(f, str) and f for f in j["facts"]))


def one_request(client, server, prompt, max_tokens, t0):
    body = request_body(server.engine, server.model_id, prompt, max_tokens)
    start = time.perf_counter()
    r = client.post(server.base + "/v1/chat/completions", json=body)
    end = time.perf_counter()
    out = {"start_s": start - t0, "end_s": end - t0, "latency_s": end - start, "status": r.status_code}
    if r.status_code != 200:
        out["error"] = r.text[:500]
        return out
    j = r.json()
    ch = j["choices"][0]
    text = ch["message"].get("content") or ""
    u = j.get("usage") or {}
    out.update(prompt_tokens=u.get("prompt_tokens", 0), completion_tokens=u.get("completion_tokens", 0),
               finish_reason=ch.get("finish_reason"), valid=check_answer(text), content=text)
    return out


def run_requests(server, prompts, all_at_once, max_tokens):
    timeout = httpx.Timeout(3600.0, connect=30.0)
    limits = httpx.Limits(max_connections=len(prompts) + 4, max_keepalive_connections=len(prompts) + 4)
    with httpx.Client(timeout=timeout, limits=limits) as client:
        # warm-up, not timed: a short prompt under the same schema
        client.post(server.base + "/v1/chat/completions",
                    json=request_body(server.engine, server.model_id, "Reply with an empty JSON answer.", 16))
        t0 = time.perf_counter()
        if all_at_once:
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(prompts)) as pool:
                futs = [pool.submit(one_request, client, server, p, max_tokens, t0) for p in prompts]
                results = [f.result() for f in futs]
        else:
            results = [one_request(client, server, p, max_tokens, t0) for p in prompts]
        wall = time.perf_counter() - t0
    return wall, results


# ---------------------------------------------------------------------------------------------

CONFIGS = [  # (name, engine, concurrent)
    ("nagare-concurrent", "nagare", True),
    ("nagare-sequential", "nagare", False),
    ("lcpp-py-sequential", "lcpp-py", False),
    ("lcpp-py-concurrent", "lcpp-py", True),
    ("llama-server-concurrent", "llama-server", True),
    ("llama-server-sequential", "llama-server", False),
]


def summarize(runs):
    """runs: list of dicts (one per round) of one model + config."""
    med = lambda k: statistics.median(r[k] for r in runs)
    lat = [x["latency_s"] for r in runs for x in r["requests"] if "latency_s" in x]
    return {
        "wall_s": med("wall_s"), "walls": [round(r["wall_s"], 1) for r in runs],
        "prompt_tokens": med("prompt_tokens"), "completion_tokens": med("completion_tokens"),
        "tok_s": statistics.median((r["prompt_tokens"] + r["completion_tokens"]) / r["wall_s"] for r in runs),
        "lat_med": statistics.median(lat) if lat else float("nan"), "lat_max": max(lat) if lat else float("nan"),
        "valid": [r["valid"] for r in runs], "length": [r["finish_length"] for r in runs],
        "errors": [r["errors"] for r in runs], "n": runs[0]["n"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="smollm2,gemma",
                    help="comma-separated: smollm2, gemma or paths to .gguf files (default: both test models)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--ref-rounds", type=int, default=None,
                    help="rounds of the llama.cpp engines' configurations, the first ones (default: --rounds); they "
                         "take 5-10x longer than nagare's on a small CPU")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--words", type=int, default=830,
                    help="words per chunk text (830: ~1,520 prompt tokens with SmolLM2, ~1,460 with Gemma 3)")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nagare", default=str(ROOT / "build" / "nagare"))
    ap.add_argument("--llama-server", default="/work/peer/build/bin/llama-server")
    ap.add_argument("--llama-cpp-python", default="/work/refvenv/bin/python",
                    help="a Python with llama-cpp-python[server] installed")
    ap.add_argument("--omp-wait-policy", default="passive",
                    help="OMP_WAIT_POLICY for the two llama.cpp engines, whose ggml is built with OpenMP ('' leaves "
                         "it unset: libgomp spins at every barrier, which collapses when the CPUs are shared with "
                         "other work; nagare's own pool yields)")
    ap.add_argument("--skip-llama-cpp-python", action="store_true")
    ap.add_argument("--skip-llama-server", action="store_true")
    ap.add_argument("--configs", default="", help="comma-separated subset of: " + ", ".join(c[0] for c in CONFIGS))
    ap.add_argument("--json", metavar="OUT", help="save the raw results (every request) here")
    ap.add_argument("--keep-logs", action="store_true", help="keep the server logs (their folder is printed)")
    ap.add_argument("--print-prompt", action="store_true", help="print the first prompt and exit")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    prompts = build_prompts(args.requests, args.words)
    if args.print_prompt:
        print(prompts[0])
        return
    models = []
    for m in args.models.split(","):
        m = m.strip()
        path = MODELS.get(m.lower(), pathlib.Path(m))
        if not path.exists():
            sys.exit(f"no such model: {m}")
        models.append((m if m.lower() in MODELS else path.stem, path))
    configs = [c for c in CONFIGS
               if not (args.skip_llama_cpp_python and c[1] == "lcpp-py")
               and not (args.skip_llama_server and c[1] == "llama-server")
               and (not args.configs or c[0] in args.configs.split(","))]
    if not configs:
        sys.exit("no configuration left to run")

    tmp = tempfile.mkdtemp(prefix="extract_step_bench.")
    print(f"{len(prompts)} prompts, {args.words} words of chunk text each; {len(models)} model(s) x "
          f"{len(configs)} configuration(s) x {args.rounds} round(s); logs in {tmp}", file=sys.stderr)
    raw = []
    try:
        for rnd in range(args.rounds):
            order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
            for mname, mpath in models:
                for cname, engine, conc in order:
                    if engine != "nagare" and args.ref_rounds is not None and rnd >= args.ref_rounds:
                        continue
                    tag = f"r{rnd}-{mname}-{cname}"
                    try:
                        server = start_server(engine, mpath, args, tmp, tag)
                    except RuntimeError as e:
                        print(f"round {rnd + 1} {mname} {cname}: the server did not start: {e}", file=sys.stderr)
                        _kill_all()
                        continue
                    try:
                        wall, results = run_requests(server, prompts, conc, args.max_tokens)
                    finally:
                        server.stop()
                    ok = [x for x in results if x["status"] == 200]
                    rec = {
                        "round": rnd, "model": mname, "model_path": str(mpath), "config": cname, "engine": engine,
                        "concurrent": conc, "cmd": server.cmd, "wall_s": wall, "n": len(results),
                        "errors": len(results) - len(ok),
                        "prompt_tokens": sum(x["prompt_tokens"] for x in ok),
                        "completion_tokens": sum(x["completion_tokens"] for x in ok),
                        "valid": sum(1 for x in ok if x["valid"]),
                        "finish_length": sum(1 for x in ok if x["finish_reason"] == "length"),
                        "requests": results,
                    }
                    raw.append(rec)
                    print(f"round {rnd + 1} {mname:8s} {cname:24s} wall {wall:7.1f} s  prompt {rec['prompt_tokens']:6d}"
                          f"  completion {rec['completion_tokens']:5d}  valid JSON {rec['valid']}/{rec['n']}"
                          f"  finish=length {rec['finish_length']}  errors {rec['errors']}", file=sys.stderr,
                          flush=True)
                    if rec["errors"]:
                        print("  first error: " + next(x["error"] for x in results if x["status"] != 200),
                              file=sys.stderr)
                    if args.json:
                        pathlib.Path(args.json).write_text(json.dumps({"args": vars(args), "runs": raw}, indent=1))
    finally:
        _kill_all()
        if not args.keep_logs:
            for f in pathlib.Path(tmp).iterdir():
                f.unlink()
            os.rmdir(tmp)

    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"\nExtraction step: {args.requests} requests, max_tokens {args.max_tokens}, temperature 0, JSON schema; "
          f"{args.threads} threads; {os.cpu_count()} CPUs ({cpu}); "
          f"OMP_WAIT_POLICY={args.omp_wait_policy or '(unset)'} for the llama.cpp engines; "
          f"medians of {args.rounds} round(s)\n")
    print("| model | configuration | wall s | prompt tok (mean/req) | completion tok | (p+c)/wall tok/s "
          "| wall / nagare-concurrent | latency med / max s | valid JSON | finish=length | walls per round |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for mname, _ in models:
        summ = {c[0]: summarize(rs) for c in configs
                if (rs := [r for r in raw if r["model"] == mname and r["config"] == c[0]])}
        base = summ.get("nagare-concurrent", {}).get("wall_s")
        for cname, s in summ.items():
            ratio = f"{s['wall_s'] / base:.2f}x" if base else "-"
            print(f"| {mname} | {cname} | {s['wall_s']:.1f} | {s['prompt_tokens']:.0f} "
                  f"({s['prompt_tokens'] / s['n']:.0f}) | {s['completion_tokens']:.0f} | {s['tok_s']:.0f} | {ratio} "
                  f"| {s['lat_med']:.1f} / {s['lat_max']:.1f} | {'/'.join(map(str, s['valid']))} of {s['n']} "
                  f"| {'/'.join(map(str, s['length']))} | {', '.join(map(str, s['walls']))} |")
            if any(s["errors"]):
                print(f"|  |  (errors per round: {s['errors']}) | | | | | | | | | |")
    if args.json:
        print(f"\nraw results: {args.json}")


if __name__ == "__main__":
    main()
