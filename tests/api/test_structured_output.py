"""Structured output through the official openai client: every output of a constrained request is
a sentence of its grammar. A finish_reason "stop" must come with JSON that parses and validates
against the request's schema (jsonschema, Draft 2020-12, formats checked strictly), or text that
the Python mirror of the GBNF grammar accepts; "length" (max_tokens reached) returns a cut text,
which is accepted unjudged.

Checked: the schema suite (tests/api/schemas/*.json) x temperatures 0, 0.7 and 1.5 through
response_format json_schema; streamed, n=3 and /v1/completions variants; json_object mode;
llama-server's top-level `grammar` (tests/api/grammars/*.gbnf) and `json_schema` fields; greedy
determinism; constrained and unconstrained requests at once (every output valid, and an
unconstrained greedy request gives the same text as alone); max_tokens too small gives "length";
and each refused input is a 400 naming its param.

SmolLM2-135M is a tiny model: the outputs are valid because of the grammar, not its skill. To keep
the file fast, the schemas' valid instances are short and the suite's requests are sent together,
so the engine batches them.
"""
import json
import re
import zlib
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest

from helpers import Hold
from structured import (check_grammar_output, check_json_object_output, check_json_output,
                        error_of, load_grammars, load_schemas, validator)

SCHEMAS = load_schemas()
GRAMMARS = load_grammars()
TEMPERATURES = [0, 0.7, 1.5]
SCHEMA_PARAM = "response_format.json_schema.schema"

# Enough tokens for the usual instance of each schema; the rest get 96. A schema that runs out
# ends with "length", which the checks accept.
MAX_TOKENS = {"order_nested": 128, "tree_recursive": 128, "event_datetime": 128, "account_formats": 128,
              "numbers_booleans": 128, "scores_map": 112, "definitions_points": 112, "person": 112}
GRAMMAR_PROMPTS = {
    "arithmetic": "Write an arithmetic expression.",
    "json": 'Give a JSON object with a cat\'s name and age, like {"name": "Tom", "age": 3}.',
    "list": "Write a shopping list.",
    "chess": "Write the first moves of a chess game.",
    "japanese_date": "今日の日付を書いてください。",
}


def seed_of(name, temperature):
    return zlib.crc32(f"{name}/{temperature}".encode()) % 100_000


def json_schema_format(name):
    return {"type": "json_schema", "json_schema": {"name": name, "schema": SCHEMAS[name], "strict": True}}


def messages_for(name):
    return [{"role": "user", "content": SCHEMAS[name]["description"] + " Answer with JSON only."}]


def ask_schema(client, model_name, name, temperature, **kw):
    """One chat request constrained by schema `name`, seeded by (name, temperature)."""
    kw.setdefault("max_tokens", MAX_TOKENS.get(name, 96))
    return client.chat.completions.create(
        model=model_name, messages=messages_for(name), response_format=json_schema_format(name),
        temperature=temperature, seed=seed_of(name, temperature), **kw)


def ask_grammar(client, model_name, name, temperature):
    max_tokens = 64 if name == "json" else 48
    return client.chat.completions.create(
        model=model_name, messages=[{"role": "user", "content": GRAMMAR_PROMPTS[name]}],
        temperature=temperature, seed=seed_of(name, temperature), max_tokens=max_tokens,
        extra_body={"grammar": GRAMMARS[name]})


def obj(value, **kw):
    return {"type": "object", "properties": {"v": value}, "required": ["v"], "additionalProperties": False, **kw}


# Near misses: the prompt asks the model to copy an instance the schema refuses, so the grammar
# must steer it elsewhere. (schema, instance to copy); every output must still validate.
NEAR_MISSES = {
    "int_above_max": (obj({"type": "integer", "minimum": 5, "maximum": 250}), {"v": 251}),
    "int_below_min": (obj({"type": "integer", "minimum": 5, "maximum": 250}), {"v": 4}),
    "int_negative_out": (obj({"type": "integer", "minimum": 5, "maximum": 250}), {"v": -5}),
    "int_more_digits": (obj({"type": "integer", "minimum": 5, "maximum": 250}), {"v": 2500}),
    "int_negative_range": (obj({"type": "integer", "minimum": -20, "maximum": -3}), {"v": -2}),
    "int_exclusive_max": (obj({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}), {"v": 10}),
    "int_exclusive_min": (obj({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}), {"v": 0}),
    "int_large_max": (obj({"type": "integer", "minimum": 0, "maximum": 40000000}), {"v": 40000001}),
    "int_not_float": (obj({"type": "integer"}), {"v": 1.5}),
    "str_too_long": (obj({"type": "string", "maxLength": 3}), {"v": "abcd"}),
    "str_escape_counts_one": (obj({"type": "string", "maxLength": 3}), {"v": "a\nbc"}),
    "str_japanese_too_long": (obj({"type": "string", "maxLength": 2}), {"v": "東京都"}),
    "str_japanese_too_short": (obj({"type": "string", "minLength": 3, "maxLength": 3}), {"v": "東京"}),
    "pattern_short_prefix": (obj({"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"}), {"v": "AB-1234"}),
    "pattern_extra_digit": (obj({"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"}), {"v": "ABC-12345"}),
    "pattern_alternation": (obj({"type": "string", "pattern": "^(ab|cd)+x?$"}), {"v": "abce"}),
    "pattern_negated_class": (obj({"type": "string", "pattern": "^[^0-9]{2}$"}), {"v": "a1"}),
    "enum_japanese": (obj({"enum": ["東京", "大阪"]}), {"v": "京都"}),
    "enum_other": (obj({"enum": ["red", "green"]}), {"v": "purple"}),
    "const_number": (obj({"const": 2}), {"v": 3}),
    "const_prefix": (obj({"const": "config"}), {"v": "conf"}),
    "extra_property": ({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
                       {"a": 1, "b": 2}),
    "missing_required": ({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}, {}),
    "too_many_items": (obj({"type": "array", "items": {"type": "integer"}, "maxItems": 2}), {"v": [1, 2, 3]}),
    "tuple_too_long": ({"type": "array", "prefixItems": [{"type": "string", "maxLength": 3}, {"type": "integer"},
                                                         {"type": "boolean"}], "maxItems": 3}, ["x", 1, True, 5]),
    "uuid_short": (obj({"type": "string", "format": "uuid"}), {"v": "123e4567-e89b-12d3-a456-42661417400"}),
    "nullable_not_string": (obj({"type": ["integer", "null"]}), {"v": "none"}),
    "anyof_neither": (obj({"anyOf": [{"type": "integer", "minimum": 0, "maximum": 5},
                                     {"type": "string", "maxLength": 2}]}), {"v": 7}),
    "number_not_string": (obj({"type": "number"}), {"v": "1.5"}),
}


def ask_copy(client, model_name, schema, instance, max_tokens=40):
    """Greedy: the model is asked to repeat `instance` under `schema`."""
    return client.chat.completions.create(
        model=model_name, temperature=0, max_tokens=max_tokens,
        messages=[{"role": "user", "content": "Repeat exactly: " + json.dumps(instance, ensure_ascii=False)}],
        response_format={"type": "json_schema", "json_schema": {"name": "copy", "schema": schema}})


def streamed(stream):
    """(text, finish_reason) of a chat stream, its deltas joined."""
    text, finish = [], None
    for chunk in stream:
        for c in chunk.choices:
            text.append(c.delta.content or "")
            finish = c.finish_reason or finish
    return "".join(text), finish


@pytest.fixture(scope="module")
def suite(client, model_name):
    """Every schema x temperature, grammar x temperature and near-miss request, sent 16 at a time on first
    use; each test waits for its own. Sent together, they run batched, which is also what the
    greedy determinism test compares a lone request against."""
    pool = ThreadPoolExecutor(16)
    futures = {}
    for name in SCHEMAS:
        for t in TEMPERATURES:
            futures["schema", name, t] = pool.submit(ask_schema, client, model_name, name, t)
    for name in GRAMMARS:
        for t in TEMPERATURES:
            futures["grammar", name, t] = pool.submit(ask_grammar, client, model_name, name, t)
    for name, (schema, instance) in NEAR_MISSES.items():
        futures["copy", name] = pool.submit(ask_copy, client, model_name, schema, instance)
    yield futures
    pool.shutdown(cancel_futures=True)


# --- the schema suite ---------------------------------------------------------------------------

def test_the_suite_is_large_enough():
    assert len(SCHEMAS) >= 20 and len(GRAMMARS) >= 5


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_file_is_valid_draft_2020_12(name):
    schema = SCHEMAS[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["description"]  # the prompt


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("name", SCHEMAS)
def test_json_schema_output_validates(suite, name, temperature):
    r = suite["schema", name, temperature].result()
    assert len(r.choices) == 1
    c = r.choices[0]
    check_json_output(SCHEMAS[name], c.message.content, c.finish_reason)
    assert r.usage.completion_tokens <= MAX_TOKENS.get(name, 96)


def test_most_suite_outputs_finish(suite):
    """Guards the suite against passing on cut texts alone: at least 80% of the outputs are whole
    instances (each checked by the test above)."""
    results = [f.result() for key, f in suite.items() if key[0] == "schema"]
    stops = sum(r.choices[0].finish_reason == "stop" for r in results)
    assert stops >= 0.8 * len(results), f"only {stops} of {len(results)} outputs finished"


@pytest.mark.parametrize("temperature", [0, 1.5])
@pytest.mark.parametrize("name", ["person", "weather_ja", "shape_anyof", "tree_recursive", "tuple_prefix"])
def test_streamed_output_validates(client, model_name, suite, name, temperature):
    text, finish = streamed(ask_schema(client, model_name, name, temperature, stream=True))
    check_json_output(SCHEMAS[name], text, finish)
    if temperature == 0:  # the same request unstreamed (in the suite) gives the same text
        assert text == suite["schema", name, 0].result().choices[0].message.content


@pytest.mark.parametrize("temperature", [0, 1.5])
@pytest.mark.parametrize("name", ["color_enum", "tuple_prefix", "city_ja"])
def test_n_choices_each_validate(client, model_name, name, temperature):
    r = ask_schema(client, model_name, name, temperature, n=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    for c in r.choices:
        check_json_output(SCHEMAS[name], c.message.content, c.finish_reason)
    if temperature == 0:
        assert len({c.message.content for c in r.choices}) == 1


def test_japanese_values_are_characters_not_bytes(suite):
    """maxLength counts characters: 名物 (at most 8) must be whole Japanese characters, and 都市
    one of the two city names."""
    for t in TEMPERATURES:
        r = suite["schema", "city_ja", t].result()
        instance = check_json_output(SCHEMAS["city_ja"], r.choices[0].message.content, r.choices[0].finish_reason)
        if instance is not None:
            assert instance["都市"] in ("東京", "大阪")
            assert "\ufffd" not in instance["名物"]


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_near_miss_copy_is_steered_to_a_valid_instance(suite, name):
    schema, instance = NEAR_MISSES[name]
    assert list(validator(schema).iter_errors(instance)), "the instance to copy must be invalid"
    c = suite["copy", name].result().choices[0]
    check_json_output(schema, c.message.content, c.finish_reason)


def test_streamed_n_choices_each_validate(client, model_name):
    name = "shape_anyof"
    texts, finish = {}, {}
    for chunk in ask_schema(client, model_name, name, 1.5, n=3, stream=True):
        for c in chunk.choices:
            texts[c.index] = texts.get(c.index, "") + (c.delta.content or "")
            finish[c.index] = c.finish_reason or finish.get(c.index)
    assert sorted(texts) == [0, 1, 2]
    for i in range(3):
        check_json_output(SCHEMAS[name], texts[i], finish[i])


# --- other ways in ----------------------------------------------------------------------------------

def test_completions_endpoint_takes_response_format(client, model_name):
    for name, t in [("product", 0), ("color_enum", 0.7), ("order_nested", 1.5)]:
        r = client.completions.create(
            model=model_name, prompt=SCHEMAS[name]["description"] + "\nJSON:", max_tokens=MAX_TOKENS.get(name, 96),
            temperature=t, seed=seed_of(name, t), extra_body={"response_format": json_schema_format(name)})
        check_json_output(SCHEMAS[name], r.choices[0].text, r.choices[0].finish_reason)
    r = client.completions.create(model=model_name, prompt="A JSON object describing a dog:", max_tokens=64,
                                  temperature=0, extra_body={"response_format": {"type": "json_object"}})
    check_json_object_output(r.choices[0].text, r.choices[0].finish_reason)


def test_completions_endpoint_takes_a_grammar(client, model_name):
    r = client.completions.create(model=model_name, prompt="The game went:", max_tokens=40, temperature=0.7,
                                  seed=3, extra_body={"grammar": GRAMMARS["chess"]})
    check_grammar_output("chess", r.choices[0].text, r.choices[0].finish_reason)


@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_json_object_mode(client, model_name, temperature):
    kw = dict(model=model_name, temperature=temperature, seed=11, max_tokens=64,
              messages=[{"role": "user", "content": "Describe your favourite book in JSON."}],
              response_format={"type": "json_object"})
    r = client.chat.completions.create(**kw)
    check_json_object_output(r.choices[0].message.content, r.choices[0].finish_reason)
    text, finish = streamed(client.chat.completions.create(**kw, stream=True))
    check_json_object_output(text, finish)
    assert text == r.choices[0].message.content  # same seed, same text


def test_top_level_json_schema_field(client, model_name, suite):
    """llama-server's `json_schema` constrains like response_format json_schema: the same seed gives
    the same text."""
    name = "integer_ranges"
    r = client.chat.completions.create(
        model=model_name, messages=messages_for(name), temperature=0.7, seed=seed_of(name, 0.7),
        max_tokens=MAX_TOKENS.get(name, 96), extra_body={"json_schema": SCHEMAS[name]})
    check_json_output(SCHEMAS[name], r.choices[0].message.content, r.choices[0].finish_reason)
    assert r.choices[0].message.content == suite["schema", name, 0.7].result().choices[0].message.content


def test_response_format_text_is_unconstrained(client, model_name):
    kw = dict(model=model_name, messages=[{"role": "user", "content": "Say hello."}], temperature=0, max_tokens=8)
    plain = client.chat.completions.create(**kw)
    text = client.chat.completions.create(**kw, response_format={"type": "text"})
    assert text.choices[0].message.content == plain.choices[0].message.content


# --- GBNF grammars ------------------------------------------------------------------------------------

@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("name", GRAMMARS)
def test_gbnf_output_is_a_sentence(suite, name, temperature):
    c = suite["grammar", name, temperature].result().choices[0]
    check_grammar_output(name, c.message.content, c.finish_reason)


def test_gbnf_mirrors_can_fail():
    """The Python mirrors accept what each grammar describes and refuse near misses."""
    from structured import GRAMMAR_CHECKS as g
    cases = {
        "arithmetic": (["1+2", "(3 * -4) / 12", "((7))", "1 - 2 + 3"], ["1++2", "1  + 2", "(1", "12345", "a"]),
        "json": (['{"a": [1, true, null]}', "{}"], ["[1]", '{"a":}', "3"]),
        "list": (["- milk\n- green tea\n", "Shopping list:\n- eggs\n"], ["- Milk\n", "- milk", "* milk\n", ""]),
        "chess": (["1. e4 e5 2. Nf3 Nc6", "1. d4 d5 2. c4 dxc4 3. O-O Qxd1+"], ["1. e4", "1. e9 e5", "2. e4 e5"]),
        "japanese_date": (["2026年12月6日", "1999年1月31日（金）", "2026年12月6日、晴れ"],
                          ["2026年13月6日", "2026年12月32日", "２０２６年1月1日", "2026-12-06"]),
    }
    assert set(cases) == set(g)
    for name, (good, bad) in cases.items():
        for t in good:
            assert g[name](t), (name, t)
        for t in bad:
            assert not g[name](t), (name, t)


def test_gbnf_streamed_equals_whole(client, model_name, suite):
    r = suite["grammar", "japanese_date", 0].result().choices[0]
    text, finish = streamed(client.chat.completions.create(
        model=model_name, messages=[{"role": "user", "content": GRAMMAR_PROMPTS["japanese_date"]}], temperature=0,
        seed=seed_of("japanese_date", 0), max_tokens=48, stream=True, extra_body={"grammar": GRAMMARS["japanese_date"]}))
    check_grammar_output("japanese_date", text, finish)
    assert (text, finish) == (r.message.content, r.finish_reason)


# --- determinism, concurrency, length -------------------------------------------------------------

@pytest.mark.parametrize("name,temperature", [("order_nested", 0), ("nullable", 0), ("person", 0.7)])
def test_same_request_gives_same_output(client, model_name, suite, name, temperature):
    """Greedy (or seeded) output is the same twice in a row, and the same as the suite's, which ran
    among many other constrained requests."""
    a = ask_schema(client, model_name, name, temperature).choices[0]
    b = ask_schema(client, model_name, name, temperature).choices[0]
    check_json_output(SCHEMAS[name], a.message.content, a.finish_reason)
    assert (a.message.content, a.finish_reason) == (b.message.content, b.finish_reason)
    s = suite["schema", name, temperature].result().choices[0]
    assert (a.message.content, a.finish_reason) == (s.message.content, s.finish_reason)


CROWD = [("person", 0), ("weather_ja", 0.7), ("shape_anyof", 1.5), ("tags", 0.7), ("tree_recursive", 0),
         ("account_formats", 0.7), ("tuple_prefix", 1.5), ("payment_oneof", 0)]
FREE_PROMPTS = ["Tell me about the sea.", "Count from one to ten."]
FREE_TOKENS = 24


def test_constrained_and_free_requests_at_once(server, client, model_name):
    """Eight schema requests run while two unconstrained greedy streams are running (a state the
    test waits for, and checks again once the eight are done). Every constrained output is valid,
    and each free stream's text starts with what the same request gives alone: the grammar masks
    of its neighbours do not leak into it."""
    free = {"model": model_name, "temperature": 0, "max_tokens": FREE_TOKENS, "extra_body": {"ignore_eos": True}}
    alone = [client.chat.completions.create(messages=[{"role": "user", "content": p}], **free).choices[0].message.content
             for p in FREE_PROMPTS]
    with Hold(server, FREE_PROMPTS, mixed=False) as held:
        with ThreadPoolExecutor(len(CROWD)) as pool:
            results = list(pool.map(lambda nt: ask_schema(client, model_name, *nt), CROWD))
        held.assert_still_running(server.stats())
        texts = [held.text(i, len(a)) for i, a in enumerate(alone)]
    for (name, _), r in zip(CROWD, results):
        check_json_output(SCHEMAS[name], r.choices[0].message.content, r.choices[0].finish_reason)
    for a, t in zip(alone, texts):
        assert t.startswith(a), f"alone {a!r}, beside constrained requests {t!r}"
    server.wait_idle()


def test_too_few_tokens_ends_with_length(client, model_name):
    name = "order_nested"  # its shortest instance is far longer than 5 tokens
    r = ask_schema(client, model_name, name, 0, max_tokens=5)
    c = r.choices[0]
    assert c.finish_reason == "length" and r.usage.completion_tokens == 5
    assert c.message.content.lstrip().startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(c.message.content)
    text, finish = streamed(ask_schema(client, model_name, name, 0, max_tokens=5, stream=True))
    assert (text, finish) == (c.message.content, "length")


# --- refused inputs -----------------------------------------------------------------------------------

def chat(model_name, **fields):
    return {"model": model_name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, **fields}


def schema_format(schema):
    return {"type": "json_schema", "json_schema": {"name": "t", "schema": schema, "strict": True}}


@pytest.mark.parametrize("keyword,schema", [
    ("patternProperties", {"type": "object", "patternProperties": {"^a": {"type": "integer"}}}),
    ("not", {"type": "object", "properties": {"a": {"not": {"type": "string"}}}}),
    ("if", {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}}),
    ("uniqueItems", {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
    ("multipleOf", {"type": "integer", "multipleOf": 3}),
    ("minProperties", {"type": "object", "minProperties": 1}),
    ("dependentRequired", {"$defs": {"x": {"type": "object", "dependentRequired": {"a": ["b"]}}}, "$ref": "#/$defs/x"}),
])
def test_unsupported_keyword_is_400_naming_it(http, model_name, keyword, schema):
    err = error_of(http.post("/v1/chat/completions", json=chat(model_name, response_format=schema_format(schema))))
    assert err["param"] == SCHEMA_PARAM, err
    assert keyword in err["message"], err
    # The same through llama-server's field names that field.
    err = error_of(http.post("/v1/completions", json={"model": model_name, "prompt": "x", "json_schema": schema}))
    assert err["param"] == "json_schema" and keyword in err["message"], err


@pytest.mark.parametrize("schema", [
    {"type": 5},
    {"type": "strin"},
    {"type": "object", "properties": []},
    {"type": "object", "required": "a"},
    {"type": "integer", "minimum": "zero"},
    {"type": "string", "pattern": "(ab"},
    {"$ref": "#/$defs/missing"},
    "not a schema",
])
def test_malformed_schema_is_400(http, model_name, schema):
    err = error_of(http.post("/v1/chat/completions", json=chat(model_name, response_format=schema_format(schema))))
    assert err["param"] == SCHEMA_PARAM, err


LINE_COLUMN = re.compile(r"line \d+.*column \d+", re.IGNORECASE | re.DOTALL)


@pytest.mark.parametrize("grammar,line", [
    ('root ::= "abc', 1),                       # unterminated literal
    ("root ::= [a-", 1),                        # unterminated class
    ('root ::= ("a" | "b"', 1),                 # unclosed group
    ('root ::= "a"\nitem ::= "b"\nx ::= ::=', 3),  # the error's own line
    ("root = \"a\"", 1),                        # no ::=
])
def test_invalid_gbnf_is_400_with_position(http, model_name, grammar, line):
    err = error_of(http.post("/v1/chat/completions", json=chat(model_name, grammar=grammar)))
    assert err["param"] == "grammar", err
    assert LINE_COLUMN.search(err["message"]), err
    assert re.search(rf"line {line}\b", err["message"]), err


@pytest.mark.parametrize("grammar,needle", [
    ('root ::= item\nitem ::= "a" undefined', "undefined"),   # a rule that is never defined
    ('item ::= "a"', "root"),                                 # no root rule
])
def test_gbnf_missing_rules_are_400(http, model_name, grammar, needle):
    err = error_of(http.post("/v1/chat/completions", json=chat(model_name, grammar=grammar)))
    assert err["param"] == "grammar" and needle in err["message"], err


@pytest.mark.parametrize("grammar", [
    'root ::= root "a" | "a"',                         # direct
    'root ::= a\na ::= b "x" | "y"\nb ::= a "z"',       # through two rules
    'root ::= x\nx ::= "b"? x "c" | "c"',               # behind an optional element
])
def test_left_recursion_is_400(http, model_name, grammar):
    err = error_of(http.post("/v1/chat/completions", json=chat(model_name, grammar=grammar)))
    assert err["param"] == "grammar", err
    assert "recurs" in err["message"].lower(), err


@pytest.mark.parametrize("fields", [
    {"response_format": {"type": "json_object"}, "grammar": 'root ::= "a"'},
    {"response_format": schema_format({"type": "integer"}), "json_schema": {"type": "integer"}},
    {"grammar": 'root ::= "a"', "json_schema": {"type": "integer"}},
])
def test_two_constraints_are_400(http, model_name, fields):
    for path, body in [("/v1/chat/completions", chat(model_name, **fields)),
                       ("/v1/completions", {"model": model_name, "prompt": "x", "max_tokens": 4, **fields})]:
        err = error_of(http.post(path, json=body))
        assert err["param"] in fields, err


@pytest.mark.parametrize("response_format,param", [
    ({"type": "xml"}, "response_format.type"),
    ({}, "response_format.type"),
    ({"type": "json_schema"}, "response_format.json_schema"),
    ("json", "response_format"),
])
def test_bad_response_format_is_400(http, model_name, response_format, param):
    err = error_of(http.post("/v1/chat/completions", json=chat(model_name, response_format=response_format)))
    assert err["param"] == param, err


def test_server_still_serves_after_refusals(client, model_name):
    name = "color_enum"
    r = ask_schema(client, model_name, name, 0)
    check_json_output(SCHEMAS[name], r.choices[0].message.content, r.choices[0].finish_reason)


def test_validator_catches_what_it_should():
    """The checks can fail: wrong types, formats, lengths and patterns are reported."""
    bad = {
        "event_datetime": {"day": "2026-02-30", "starts": "25:00:00Z", "ends": "2026-12-06 10:00:00"},
        "account_formats": {"id": "123e4567-e89b-12d3-a456-42661417400", "email": "nobody"},
        "product": {"code": "AB-1234", "price": 1, "in_stock": True},
        "city_ja": {"都市": "京都", "人口": 1, "名物": "八ツ橋"},
        "string_lengths": {"username": "ab", "bio": "", "pin": "12345"},
        "tuple_prefix": ["x", 1, True, 4],
    }
    for name, instance in bad.items():
        with pytest.raises(AssertionError):
            check_json_output(SCHEMAS[name], json.dumps(instance, ensure_ascii=False), "stop")
        errors = list(validator(SCHEMAS[name]).iter_errors(instance))
        assert errors, name
    with pytest.raises(AssertionError):
        check_json_output(SCHEMAS["product"], '{"code": "ABC-1234", "price": 1, "in_stock": true', "stop")
    assert len(list(validator(SCHEMAS["event_datetime"]).iter_errors(bad["event_datetime"]))) == 3


# Last in the file (a failure here leaves the rest of the file run under -x).
@pytest.mark.parametrize("fmt,value,valid", [
    ("date", "2024-02-29", True), ("date", "2026-12-06", True), ("date", "2000-02-29", True),
    ("date", "2026-02-30", False), ("date", "2025-02-29", False), ("date", "2026-04-31", False),
    ("date", "1900-02-29", False), ("date-time", "2026-02-30T10:00:00Z", False),
])
def test_date_formats_hold_only_real_days(client, model_name, fmt, value, valid):
    """RFC 3339 (5.7): the day must exist in its month and year. Asked to copy a real date, the
    model does (so it would copy an impossible one too, were the grammar to let it); asked to
    copy an impossible one, the output must be a real date."""
    schema = obj({"type": "string", "format": fmt})
    c = ask_copy(client, model_name, schema, {"v": value}).choices[0]
    instance = check_json_output(schema, c.message.content, c.finish_reason)
    if valid:
        assert instance == {"v": value}
