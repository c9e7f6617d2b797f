#!/usr/bin/env python3
"""Golden renders of chat templates by jinja2, configured exactly as HF transformers does.

transformers/utils/chat_template_utils.py compiles chat templates with
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[AssistantTracker, jinja2.ext.loopcontrols]), replaces the tojson filter with
json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False), adds the globals
raise_exception (raises TemplateError) and strftime_now, and renders with messages, tools=None,
documents=None, add_generation_prompt and the special tokens. This script does the same
(strftime_now sees a fixed time so goldens are stable; {% generation %} renders its body) and writes

  tests/golden/chat/renders.json   SmolLM2's GGUF template, the built-ins, and the real-world
                                   templates in tests/golden/chat/templates/ over varied chats
  tests/golden/chat/features.json  small templates exercising one feature each, including
                                   templates that must fail to parse or must raise (at least
                                   one per exception class), plus
                                   deterministic random expressions (value semantics) and random
                                   templates (whitespace control, statements, scoping)

A failure is recorded as its message and `error_type`, the exception's class name
(UndefinedError, TypeError, TemplateSyntaxError, SecurityError, ...): the C++ golden test
requires nagare to fail with the same category (tests/unit/chat/chat_golden_test.cc maps each).
Output is deterministic: rerunning gives identical files.

Run: .venv/bin/python scripts/golden/chat_templates.py  (needs jinja2 and gguf; scripts/install-deps)
"""

import copy
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "chat")
NOW = datetime(2024, 7, 26, 14, 5, 9)


class GenerationBlock(jinja2.ext.Extension):
    """{% generation %}...{% endgeneration %} renders its body, as HF's AssistantTracker does."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()


def render(source, messages, add_generation_prompt, bos, eos, extra):
    """Returns {"output": str} or {"error": str, "error_type": str}."""
    try:
        template = ENV.from_string(source)
    except Exception as e:  # noqa: BLE001 - TemplateSyntaxError, or Python's own for 'break' outside loop
        return {"syntax_error": str(e), "error_type": type(e).__name__}
    # Copies: a few filters mutate their input in place despite the sandbox (list|indent does
    # `s += "\n"`), which must not leak into later cases.
    variables = dict(messages=copy.deepcopy(messages), tools=None, documents=None,
                     add_generation_prompt=add_generation_prompt, bos_token=bos, eos_token=eos)
    variables.update(copy.deepcopy(extra))
    try:
        return {"output": template.render(**variables)}
    except Exception as e:  # noqa: BLE001 - every failure is a golden outcome
        return {"error": str(e), "error_type": type(e).__name__}


# ---------------------------------------------------------------- templates

BUILTINS = {
    "chatml": (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
        "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
        "{% endif %}", "", "<|im_end|>"),
    "llama3": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
        "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
        "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
        "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
        "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
        "<|begin_of_text|>", "<|eot_id|>"),
    "mistral": (
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
        "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
        "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
        "message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + "
        "eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
        "{% endif %}{% endfor %}", "<s>", "</s>"),
    "gemma": ("""{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '

' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '

' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '
' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>
' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model
'}}
{%- endif -%}
""", "<bos>", "<eos>"),
}


def gguf_info(path):
    """(chat template or None, bos token, eos token, architecture) of a GGUF model."""
    import gguf  # only needed to regenerate

    reader = gguf.GGUFReader(path)

    def field_str(name):
        f = reader.fields.get(name)
        return None if f is None else bytes(f.parts[f.data[0]]).decode("utf-8")

    def token(id_key):
        tokens = reader.fields["tokenizer.ggml.tokens"]
        tid = int(reader.fields[id_key].parts[reader.fields[id_key].data[0]][0])
        return bytes(tokens.parts[tokens.data[tid]]).decode("utf-8")

    return (field_str("tokenizer.chat_template"), token("tokenizer.ggml.bos_token_id"),
            token("tokenizer.ggml.eos_token_id"), field_str("general.architecture"))


# ---------------------------------------------------------------- conversations

def chat(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]


CONVERSATIONS = [
    chat(("user", "Hello!")),
    chat(("system", "You are a helpful assistant."), ("user", "What is 2+2?")),
    chat(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello! How can I help?"), ("user", "Tell me a joke.")),
    chat(("user", "First question"), ("assistant", "First answer"), ("user", "Second question"), ("assistant", "Second answer")),
    chat(("user", "")),
    chat(("system", "あなたは親切なアシスタントです。"), ("user", "東京の天気は？"), ("assistant", "晴れです。"), ("user", "ありがとう！")),
    chat(("user", "Render {{ not_a_var }} and {% if x %}no{% endif %} {# comment #} literally"),
         ("assistant", "He said \"hi\" and 'bye' — {{'quoted'}}")),
    chat(("system", "  padded system  \n\n"), ("user", "\n\n  padded user\t \n"), ("assistant", "  \n padded answer \n ")),
    chat(("user", "line1\nline2\r\n\tindented\n\n\nend")),
    chat(("user", "😀 café naïve — “curly quotes” ß ÀÉÎ ελληνικά русский 中文 한국어")),
    chat(("user", "first user turn"), ("user", "second user turn in a row")),
    chat(("assistant", "I speak first."), ("user", "Ok.")),
    chat(("system", "sys"), ("user", "u1"), ("assistant", "a1"), ("user", "u2"), ("assistant", "a2"),
         ("user", "u3"), ("assistant", "a3"), ("user", "u4")),
    chat(("system", "Only a system prompt.")),
    [],
    chat(("user", "Backslashes: C:\\path\\to\\file, a literal \\n and \\\\ double")),
    chat(("user", "What's the weather?"), ("assistant", "Let me check."), ("tool", "{\"temp\": 21}"), ("user", "Thanks")),
    chat(("user", "<think>reasoning</think>visible"), ("assistant", "<think>\nthinking about it\n</think>\n\nThe answer is 4.")),
]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city — e.g. 東京",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "description": "Forecast days", "default": 1},
            },
            "required": ["city"],
        },
    },
}

TOOL_CONVERSATION = [
    {"role": "system", "content": "You can call tools."},
    {"role": "user", "content": "Weather in Tokyo?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": {"city": "Tokyo", "unit": "celsius"}}}]},
    {"role": "tool", "name": "get_weather", "tool_call_id": "call_1", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"},
    {"role": "assistant", "content": "It is 21.5°C and clear in Tokyo."},
    {"role": "user", "content": "And tomorrow?"},
]

EXTRAS = [
    {},
    {"tools": [WEATHER_TOOL]},
    {"enable_thinking": False},
]


# ---------------------------------------------------------------- feature templates

M2 = chat(("system", "S"), ("user", "Hi there"), ("assistant", "Hello"), ("user", "Bye"))

FEATURES = [
    # name, source, extra variables (messages are M2 unless given as "messages")
    ("text_only", "plain text\nwith lines\n", {}),
    ("trailing_newline_kept_one", "a\n\n", {}),
    ("crlf", "a\r\nb\rc{% if true %}\r\nx{% endif %}\r\n", {}),
    ("output_types", "{{ 1 }}|{{ 1.0 }}|{{ 1.5e3 }}|{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 1e-5 }}|{{ none }}|{{ true }}|{{ [1, 'a', none, false] }}|{{ {'k': 'v', 'n': [1]} }}|{{ (1,) }}|{{ (1, 'b') }}|{{ \"it's\" }}|{{ ['it\\'s', \"q\\\"\", 'a\\nb', 'é'] }}", {}),
    ("undefined_renders_empty", "[{{ nothing }}][{{ messages[10] }}][{{ messages[0].missing }}]", {}),
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 3 ** 2 }} {{ 7 / 2 }} {{ 6 / 3 }} {{ 1 + 2 * 3 - 4 }} {{ -3 }} {{ +3 }} {{ 7.5 // 2 }} {{ 7.5 % 2 }} {{ 2 ** -1 }} {{ 'ab' * 3 }} {{ [1] * 2 }} {{ 3 * 'x' }}", {}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ none ~ true ~ nothing ~ [1] }}", {}),
    ("compare", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1,2] == [1,2] }} {{ 2 >= 2 }} {{ 'b' > 'a' }} {{ 1 in [1,2] }} {{ 'x' not in 'abc' }} {{ 'k' in {'k': 1} }} {{ none == none }} {{ nothing == nothing }} {{ true == 1 }}", {}),
    ("logic", "{{ true and 'x' }} {{ 0 or 'y' }} {{ '' or [] }} {{ not 0 }} {{ not 'a' }} {{ none or 5 }} {{ 3 and 0 }} {{ (1 if false) is defined }}", {}),
    ("ternary", "{{ 'yes' if messages else 'no' }}|{{ 'a' if false else 'b' if true else 'c' }}|{{ 'x' if false }}|", {}),
    ("if_elif_else", "{% for m in messages %}{% if m.role == 'system' %}S{% elif m.role == 'user' %}U{% elif m.role == 'x' %}X{% else %}A{% endif %}{% endfor %}", {}),
    ("for_loop_vars", "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.depth }}/{{ loop.previtem.role if loop.previtem is defined else '-' }}/{{ loop.nextitem.role if loop.nextitem is defined else '-' }}/{{ loop.cycle('odd', 'even') }};{% endfor %}", {}),
    ("for_filter_if", "{% for m in messages if m.role != 'system' %}{{ loop.index }}:{{ m.role }}{{ ',' if not loop.last }}{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in nothing %}x{% else %}undef{% endfor %}|{% for x in [1] if x > 5 %}x{% else %}filtered{% endfor %}", {}),
    ("for_unpack", "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", {}),
    ("for_dict_and_string", "{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}|{% for c in 'héllo' %}[{{ c }}]{% endfor %}", {}),
    ("nested_loops", "{% for i in range(3) %}{% for j in range(i) %}{{ i }}{{ j }}{{ loop.index }}{% if loop.last %};{% endif %}{% endfor %}{{ loop.index }}{% endfor %}", {}),
    ("break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("set_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 9 %}{% endif %}{{ x }}", {}),
    ("namespace", "{% set ns = namespace(count=0, found=false, last='') %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.last = m.content %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }} {{ ns.last }}", {}),
    ("set_tuple_and_block", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}{% set blk %}  inner {{ a }}  {% endset %}[{{ blk }}]{% set up | upper %}shout{% endset %}{{ up }}", {}),
    ("macro", "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }} {{ greet('D')|upper }}", {}),
    ("macro_recursion_and_varargs", "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}{% macro v(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ v(1, 2, 3, k=4) }}", {}),
    ("filter_block", "{% filter upper %}shout {{ messages[0].content }}{% endfilter %}", {}),
    ("whitespace_control", "a  {{- ' b ' -}}  c\n  {%- if true -%}  d  {%- endif -%}  \n e {#- comment -#} f", {}),
    ("trim_lstrip_blocks", "<ul>\n    {% for m in messages %}\n    <li>{{ m.role }}</li>\n    {% endfor %}\n</ul>\n  {# comment line #}\nend\n    {%+ if true %}kept-indent{% endif %}\n{% if true +%}\nkept-newline{% endif %}", {}),
    ("lstrip_not_for_vars", "line\n    {{ 'x' }}\n    {% if true %}y{% endif %}\n", {}),
    ("raw_block", "{% raw %}{{ not rendered }} {% if %}{% endraw %}|\n  {% raw -%}   a  {%- endraw %}\nafter", {}),
    ("comments", "a{# one #}b{#- two -#} c {# multi\nline #}\nd", {}),
    ("string_literals", "{{ 'tab\\there' }}|{{ \"nl\\nhere\" }}|{{ 'q\\'s' }}|{{ '\\x41\\u00e9\\U0001F600' }}|{{ 'unknown \\q escape' }}|{{ 'a' 'b' \"c\" }}|{{ '\\\\' }}|{{ '\\101' }}", {}),
    ("numbers", "{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e2 }} {{ 2.5E-3 }} {{ 10 / 4 }} {{ 1e300 * 1e10 }} {{ -0.0 }} {{ 123456789012345678 }}", {}),
    ("subscripts_slices", "{{ messages[0].role }} {{ messages[-1]['content'] }} {{ messages.1.role }} {{ (messages|map(attribute='role')|list)[1:3] }} {{ 'hello'[1:] }} {{ 'hello'[::-1] }} {{ 'hello'[-3:-1] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3][5:] }} {{ 'héllo wörld'[1:8] }} {{ 'abc'[1] }} {{ [1,2,3][:-1] }} {{ (1,2,3)[1:] }}", {}),
    ("string_methods", "{{ '  x y  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a-b-c'.rsplit('-', 1) }}|{{ 'Hello'.startswith('He') }}|{{ 'Hello'.endswith(('x', 'lo')) }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'abc'.upper() }}|{{ 'ÀB'.lower() }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abc'.find('c') }}|{{ 'abcabc'.count('b') }}|{{ '-'.join(['a', 'b']) }}|{{ 'l1\\nl2\\r\\nl3'.splitlines() }}|{{ 'x'.center(5) }}|{{ '7'.zfill(3) }}|{{ 'ab'.ljust(4, '*') }}|{{ '{} and {}'.format(1, 'two') }}|{{ '123'.isdigit() }}|{{ 'they\\'re 1st'.title() }}|{{ 'prefix-x'.removeprefix('prefix-') }}", {}),
    ("dict_methods", "{% set d = {'a': 1, 'b': [2, 3]} %}{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d['b'][1] }} {{ d.b }}", {}),
    ("filters_text", "{{ '  hi  '|trim }}|{{ 'xhix'|trim('x') }}|{{ 'abc'|upper }}|{{ 'ABC'|lower }}|{{ 'hello wORLD-foo(bar'|title }}|{{ 'hELLO'|capitalize }}|{{ 'aXbX'|replace('X', '-') }}|{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent('> ', blank=true) }}|{{ '<a href=\"x\">&'|e }}|{{ 3.7|int }}|{{ '42'|int }}|{{ '4.9'|int }}|{{ 'x'|int(7) }}|{{ '2.5'|float }}|{{ 42|string ~ '!' }}|{{ 'abc'|length }}|{{ 'héllo'|length }}|{{ 'a b  c'|wordcount }}|{{ 'x'|center(5) }}|{{ -3|abs }}|{{ 2.567|round(2) }}|{{ 2.5|round }}|{{ 3|round }}|{{ 2.1|round(0, 'ceil') }}|{{ '%s-%d-%.2f-%5s|%-4s|%%'|format('a', 3, 1.5, 'r', 'l') }}|{{ '%(x)s'|format(x=1) }}", {}),
    ("filters_lists", "{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'c']|sort }}|{{ ['b', 'A', 'c']|sort(case_sensitive=true) }}|{{ [3, 1, 2]|sort(reverse=true) }}|{{ messages|sort(attribute='role')|map(attribute='content')|join(',') }}|{{ [1, 2, 3]|first }}|{{ [1, 2, 3]|last }}|{{ []|first }}|{{ [1, 2, 3]|join('-') }}|{{ [1, 2]|list }}|{{ 'ab'|list }}|{{ [1, 2, 3]|reverse|list }}|{{ 'abc'|reverse }}|{{ [1, 2, 2, 'a', 'A']|unique|list }}|{{ [4, 9, 2]|max }}|{{ ['b', 'C', 'a']|min }}|{{ [1, 2, 3]|sum }}|{{ messages|map(attribute='role')|unique|list }}|{{ [1, 2, 3, 4, 5]|batch(2)|list }}|{{ {'b': 1, 'a': 2}|dictsort }}|{{ {'b': 1, 'a': 2}|items|list }}|{{ ['a', 'b']|map('upper')|list }}|{{ [[1, 2], [3]]|map('length')|list }}|{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }}|{{ messages|rejectattr('role', 'in', ['user', 'system'])|list|length }}|{{ [0, 1, '', 'a', none]|select|list }}|{{ [1, 2, 3, 4]|select('odd')|list }}|{{ [1, 2, 3, 4]|reject('even')|list }}|{{ [1, 2, 3]|select('gt', 1)|list }}|{{ messages|selectattr('missing')|list }}|{{ messages|map(attribute='missing', default='d')|list }}|{{ {'a': 1}|length }}", {}),
    ("filter_default", "[{{ nothing|default('dflt') }}][{{ none|default('dflt') }}][{{ ''|default('dflt', true) }}][{{ 0|d('z', boolean=true) }}][{{ 'set'|default('dflt') }}][{{ nothing|default }}]", {}),
    ("tojson", "{{ messages|tojson }}\n{{ {'a': [1, 2.5, none, true], 'é': 'ü\"\\\\\\n\\t\\u0001'}|tojson }}\n{{ tools|tojson(indent=4) }}\n{{ {'b': 1, 'a': {'c': []}, 'd': {}}|tojson(indent=2, sort_keys=true) }}\n{{ {'x': 1, 'y': 2}|tojson(separators=(',', ':')) }}\n{{ 'é😀'|tojson(true) }}\n{{ [1, 2]|tojson(indent='\\t') }}\n{{ 'x'|tojson }}{{ 1.0|tojson }}{{ 10000000000000000.0|tojson }}", {"tools": [WEATHER_TOOL]}),
    ("tests", "{{ nothing is defined }} {{ nothing is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is string }} {{ {} is mapping }} {{ [] is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ nothing is iterable }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 'a' is number }} {{ [] is sequence }} {{ 'a' is sequence }} {{ {} is sequence }} {{ 1 is sequence }} {{ 1 is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 1 is equalto 1 }} {{ 1 is eq 2 }} {{ 1 is ne 2 }} {{ 2 is gt 1 }} {{ 2 is ge 3 }} {{ 1 is lt 2 }} {{ 2 is le 2 }} {{ 1 is in [1] }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 'aBc' is lower }} {{ none is sameas none }} {{ raise_exception is callable }} {{ 'a' is callable }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ messages[0] is mapping }} {{ messages is not string }} {{ nothing is not none }}", {}),
    ("in_operator", "{{ 'ell' in 'hello' }} {{ 'x' in ['x'] }} {{ 'role' in messages[0] }} {{ 'tool_calls' in messages[0] }} {{ 'a' in nothing }} {{ 1 not in [2] }}", {}),
    ("generation_block", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}|{% endfor %}", {}),
    ("block_scopes", "{% set x = 1 %}{% set y %}{% set x = 2 %}{{ x }}{% endset %}{{ y }}{{ x }}{% filter upper %}{% set x = 3 %}{{ x }}{% endfilter %}{{ x }}{% generation %}{% set x = 4 %}{{ x }}{% endgeneration %}{{ x }}", {}),
    ("with_block", "{% with a = 1, b = 'x' %}{{ a }}{{ b }}{% endwith %}[{{ a }}]", {}),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now is defined }}", {}),
    ("messages_rebind", "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}{% set messages = messages[1:] %}{% endif %}{{ system_message }}:{% for m in messages %}{{ m.role[0] }}{% endfor %}", {}),
    ("range_and_dict", "{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", {}),
    ("loop_over_content_parts", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}{% elif p.type == 'image' %}<img>{% endif %}{% endfor %}{% endif %};{% endfor %}",
     {"messages": [{"role": "user", "content": [{"type": "text", "text": "look:"}, {"type": "image"}, {"type": "text", "text": " ok"}]}, {"role": "assistant", "content": "plain"}]}),
    ("message_extra_fields", "{% for m in messages %}{{ m.role }}{% if m.tool_calls %}{% for tc in m.tool_calls %}<{{ tc.function.name }} {{ tc.function.arguments|tojson }}>{% endfor %}{% endif %}{% if m.name is defined %}({{ m.name }}){% endif %};{% endfor %}",
     {"messages": TOOL_CONVERSATION}),
    ("attr_and_items_order", "{% for k, v in messages[2]|items %}{{ k }};{% endfor %}{{ messages[2].tool_calls[0].function|attr('name') }}|{{ messages[2].tool_calls[0]['function']['name'] }}", {"messages": TOOL_CONVERSATION}),
    ("bool_and_none_vars", "{{ add_generation_prompt }} {{ tools }} {{ documents }} {{ bos_token }}{{ eos_token }} {{ custom_flag }}", {"custom_flag": True}),
    ("generators", "{% set users = messages|selectattr('role', 'equalto', 'user') %}{{ 'truthy' if messages|selectattr('role', 'equalto', 'nobody') else 'falsy' }}|{{ users|list|length }}|{{ users|list|length }}|{{ (messages|map(attribute='role'))[0] is defined }}|{{ messages|map(attribute='role') is sequence }}|{{ messages|map(attribute='role') is iterable }}|{{ none|selectattr('x')|list }}|{{ nothing|map('upper')|list }}|{{ [3, 1]|reverse|list }}|{{ [1, 2]|reverse is sequence }}|{{ (messages|selectattr('role', 'equalto', 'user')|first).content }}", {}),
    ("dict_views", "{% set d = {'a': 1, 'b': 2} %}{{ d.items() }}|{{ d.keys() }}|{{ d.values()|list }}|{{ d.items()|length }}|{{ 'a' in d.keys() }}|{{ d.items() is sequence }}|{{ d.keys()[0] is defined }}|{{ {}.items() if {}.items() else 'empty' }}", {}),
    ("markup", "{{ '<b>'|safe + '<i>' }}|{{ '<i>' + '<b>'|safe }}|{{ '<b>'|safe ~ '<i>' }}|{{ '<x>'|e }}|{{ ('<a>'|safe).upper() + '&' }}|{{ '<'|safe * 2 }}|{{ ('a<b'|safe).replace('a', '<') }}|{{ ('<b>'|safe)[1] + '<' }}|{{ '<b>'|safe|upper + '>' }}|{{ '<b>'|escape|escape }}|{{ 'x'|safe|length }}", {}),
    ("generator_errors_tojson", "{{ messages|map(attribute='role')|tojson }}", {}),
    ("generator_errors_length", "{{ messages|map(attribute='role')|length }}", {}),
    ("generator_errors_last", "{{ messages|map(attribute='role')|last }}", {}),
    ("loop_over_none_filter", "{% for t in tools|selectattr('type', 'equalto', 'function') %}x{% endfor %}ok", {}),
    # Failures that must match: raise_exception, runtime errors, sandbox.
    ("raise_exception", "{% if messages|length > 1 %}{{ raise_exception('Too many messages: ' ~ messages|length) }}{% endif %}", {}),
    ("undefined_attr_chain", "{{ nothing.attr }}", {}),
    ("undefined_item_chain", "{{ messages[0].missing.deeper }}", {}),
    ("undefined_arith", "{{ nothing + 1 }}", {}),
    ("type_error_concat", "{{ 'a' + 1 }}", {}),
    ("none_iteration", "{% for x in none %}{% endfor %}", {}),
    ("sandbox_list_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("range_too_big", "{{ range(100001)|length }}", {}),
    ("division_by_zero", "{{ 1 / 0 }}", {}),
    ("undefined_call", "{{ no_such_function() }}", {}),
    ("unknown_filter_in_if_unused", "{% if false %}{{ 'x'|no_such_filter }}{% endif %}ok", {}),
    ("unknown_filter_in_if_used", "{% if true %}{{ 'x'|no_such_filter }}{% endif %}ok", {}),
    # One or more failures per exception class, so the golden test's category check bites on each:
    # UndefinedError where an undefined is used beyond printing / testing it.
    ("undefined_iterate_attr_chain", "{% for x in messages[0].missing.deeper %}{{ x }}{% endfor %}", {}),
    ("undefined_index_then_attr", "{{ messages[10].content }}", {}),
    ("undefined_method_call", "{{ messages[0].content.no_such_method() }}", {}),
    ("undefined_compare", "{{ nothing < 1 }}", {}),
    ("undefined_item_of_undefined", "{{ nothing[0] }}", {}),
    # TypeError.
    ("call_non_callable", "{{ messages[0].content() }}", {}),
    ("call_non_callable_number", "{% set n = 3 %}{{ n() }}", {}),
    ("compare_unorderable", "{{ 1 < 'a' }}", {}),
    ("sort_unorderable", "{{ messages|sort|list }}", {}),
    ("none_arithmetic", "{{ none + 1 }}", {}),
    ("str_times_str", "{{ 'a' * 'b' }}", {}),
    ("unhashable_in_dict", "{{ [1] in {'a': 1} }}", {}),
    ("macro_too_many_args", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", {}),
    ("percent_format_needs_number", "{{ '%d' % 'x' }}", {}),
    # ValueError.
    ("unpack_too_many", "{% set a, b = [1, 2, 3] %}{{ a }}", {}),
    ("unpack_too_few", "{% for a, b, c in [[1, 2]] %}{{ a }}{% endfor %}", {}),
    ("str_index_not_found", "{{ 'abc'.index('z') }}", {}),
    ("list_index_not_found", "{{ [1, 2].index(5) }}", {}),
    ("split_empty_separator", "{{ 'a b'.split('') }}", {}),
    ("range_step_zero", "{{ range(1, 5, 0)|list }}", {}),
    ("bad_format_character", "{{ '%y' % 1 }}", {}),
    # IndexError and KeyError (format strings: subscripts of missing items are Undefined instead).
    ("format_index_out_of_range", "{{ '{} and {}'.format('one') }}", {}),
    ("percent_format_missing_key", "{{ '%(name)s' % {'other': 1} }}", {}),
    # AttributeError: a Python method missing on the value.
    ("dictsort_on_list", "{{ [3, 1]|dictsort }}", {}),
    # SecurityError: the sandbox's unsafe methods.
    ("sandbox_dict_update", "{{ messages[0].update({'role': 'x'}) }}", {}),
    ("sandbox_list_pop", "{{ messages.pop() }}", {}),
    # TemplateRuntimeError / FilterArgumentError.
    ("unknown_test_in_if_used", "{% if true %}{{ 1 is no_such_test }}{% endif %}", {}),
    ("set_attr_on_non_namespace", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("map_without_filter", "{{ [1]|map|list }}", {}),
    ("round_bad_method", "{{ 1.5|round(0, 'up') }}", {}),
    ("reverse_non_iterable", "{{ 1|reverse }}", {}),
    # ZeroDivisionError and OverflowError.
    ("modulo_by_zero", "{{ 5 % 0 }}", {}),
    ("float_floor_division_by_zero", "{{ 1.5 // 0 }}", {}),
    ("range_too_big_with_step", "{{ range(0, 200002, 2)|length }}", {}),
    # Templates jinja2 refuses to compile.
    ("syntax_unclosed_if", "{% if true %}never closed", {}),
    ("syntax_unclosed_var", "{{ 'a' ", {}),
    ("syntax_bad_tag", "{% frobnicate %}", {}),
    ("syntax_endfor_mismatch", "{% for x in y %}{% endif %}", {}),
    ("syntax_unknown_filter", "{{ 'x'|no_such_filter }}", {}),
    ("syntax_unknown_test", "{{ 'x' is no_such_test }}", {}),
    ("syntax_bad_expression", "{{ 1 + }}", {}),
    ("syntax_unbalanced", "{{ (1 + 2 }}", {}),
    ("syntax_unclosed_string", "{{ 'abc }}", {}),
    ("syntax_unclosed_comment", "{# never closed", {}),
    ("syntax_break_outside_loop", "{% break %}", {}),
    ("syntax_bad_assign", "{% set 1 = 2 %}", {}),
    ("syntax_stray_endif", "text {% endif %}", {}),
    ("syntax_second_line", "ok line\n  {{ messages[0] | }}", {}),
    ("syntax_continue_outside_loop", "{% if true %}{% continue %}{% endif %}", {}),
    ("syntax_empty_expression", "{{ }}", {}),
    ("syntax_stray_else", "{% else %}", {}),
    ("syntax_unclosed_call", "{{ range(3 }}", {}),
    ("syntax_default_before_required", "{% macro m(a=1, b) %}{% endmacro %}", {}),
    ("syntax_positional_after_keyword", "{{ dict(a=1, 2) }}", {}),
    ("syntax_missing_for_target", "{% for in messages %}{% endfor %}", {}),
    ("syntax_unknown_test_in_if", "{% if x is no_such_test %}{% endif %}", {}),
]


# ---------------------------------------------------------------- random expressions

def random_expressions(count, seed=20240726):
    """Deterministic random expressions over literals, operators, filters, tests and methods, so
    value semantics (numbers, strings, containers, errors) are compared far beyond hand-written
    cases. Magnitudes stay small: jinja2 has bignums, nagare int64."""
    import random

    rng = random.Random(seed)
    atoms = ["0", "1", "2", "3", "-1", "7", "10", "2.5", "-0.5", "1e3", "0.1", "true", "false", "none",
             "''", "'a'", "'Ab c'", "' x '", "'héllo'", "'日本'", "'1,2,3'", "'42'", "'3.7'", "'<b>'",
             "[]", "[1, 2, 3]", "['b', 'a', 'C']", "[1, 'a', none]", "[[1, 2], [3]]", "(1, 2)",
             "{}", "{'k': 1, 'j': 'v'}", "{'b': 2, 'a': 1}", "nothing", "messages", "messages[0]",
             "messages[1].content", "messages|length", "loopless"]
    binops = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", ">", "<=", ">=", "and", "or", "in", "not in"]
    filters = ["length", "upper", "lower", "trim", "first", "last", "list", "join", "join(', ')",
               "reverse|list", "sort", "unique|list", "string", "int", "float", "abs", "round", "round(1)",
               "default('d')", "default('d', true)", "tojson", "title", "capitalize", "replace('a', 'b')",
               "indent(2)", "count", "sum", "min", "max", "items|list", "dictsort", "batch(2)|list",
               "center(7)", "wordcount", "e", "safe", "map('string')|list", "select|list",
               "reject('none')|list", "selectattr('role')|list", "map(attribute='role')|list",
               "trim('a')", "format(1)"]
    tests = ["defined", "undefined", "none", "string", "number", "integer", "float", "iterable",
             "sequence", "mapping", "odd", "even", "divisibleby 2", "in [1, 'a']", "boolean",
             "true", "false", "lower", "upper", "eq 1", "gt 1"]
    methods = [".strip()", ".split()", ".split(',')", ".upper()", ".startswith('a')", ".replace('a', 'x')",
               ".get('k')", ".get('z', 0)", ".items()|list", ".keys()|list", ".lstrip('x ')", ".title()",
               "[0]", "[-1]", "[1:]", "[::-1]", "[:2]", "['k']", ".count('a')", ".find('b')"]

    def expr(depth):
        r = rng.random()
        if depth <= 0 or r < 0.25:
            return rng.choice(atoms)
        if r < 0.5:
            op = rng.choice(binops)
            left, right = expr(depth - 1), expr(depth - 1)
            if op in ("*", "**") and rng.random() < 0.5:
                right = rng.choice(["2", "3", "0", "-1"])
            return f"({left} {op} {right})"
        if r < 0.65:
            return f"({expr(depth - 1)}|{rng.choice(filters)})"
        if r < 0.75:
            neg = "not " if rng.random() < 0.3 else ""
            return f"({expr(depth - 1)} is {neg}{rng.choice(tests)})"
        if r < 0.87:
            return f"({expr(depth - 1)}){rng.choice(methods)}"
        if r < 0.93:
            return f"({expr(depth - 1)} if {expr(depth - 1)} else {expr(depth - 1)})"
        return f"(not {expr(depth - 1)})"

    seen, out = set(), []
    while len(out) < count:
        e = expr(3)
        if e not in seen:
            seen.add(e)
            out.append(e)
    return out


def random_templates(count, seed=4242):
    """Random statement structure and whitespace control: data with spaces/tabs/newlines around
    tags carrying -/+ markers, comments, raw blocks, if/for/set/macro nesting and scoping."""
    import random

    rng = random.Random(seed)
    data = ["", " ", "  ", "\n", "\n  ", "text", " a ", "\t", "x\n", "\n\n", "  \n  ", "\n\t \n"]

    def tag(body):
        return rng.choice(["{%", "{%-", "{%+", "{% "]) + " " + body + " " + rng.choice(["%}", "-%}", "+%}"])

    def var(expr):
        return rng.choice(["{{", "{{-"]) + " " + expr + " " + rng.choice(["}}", "-}}"])

    exprs = ["x", "(loop.index if loop is defined else 'nl')", "ns.n", "i", "i * 2", "'s'", "messages|length", "x ~ i", "ns.n + i",
             "messages[i % 4].role", "loop.last", "y", "(m.content|trim if m is defined else 'nm')",
             "loop.first if loop is defined else 'nl'", "(loop.last if loop is defined)"]

    def block(depth):
        parts = []
        for _ in range(rng.randint(1, 4)):
            parts.append(rng.choice(data))
            r = rng.random()
            if r < 0.3 or depth <= 0:
                parts.append(var(rng.choice(exprs)))
            elif r < 0.45:
                parts.append(tag(f"if {rng.choice(exprs)}") + block(depth - 1) +
                             (tag("elif i") + block(depth - 1) if rng.random() < 0.3 else "") +
                             (tag("else") + block(depth - 1) if rng.random() < 0.5 else "") + tag("endif"))
            elif r < 0.6:
                seq = rng.choice(["[1, 2]", "range(3)", "messages", "[]"])
                name = "m" if seq == "messages" else "i"
                parts.append(tag(f"for {name} in {seq}") + block(depth - 1) +
                             (tag("else") + block(depth - 1) if rng.random() < 0.3 else "") + tag("endfor"))
            elif r < 0.7:
                parts.append(tag(f"set x = {rng.choice(exprs)}"))
            elif r < 0.78:
                parts.append(tag("set ns.n = ns.n + 1"))
            elif r < 0.86:
                parts.append(rng.choice(["{#", "{#-"]) + rng.choice([" c ", "\n"]) + rng.choice(["#}", "-#}"]))
            elif r < 0.92:
                parts.append(rng.choice(["{%", "{%-", "{%+"]) + " raw " + rng.choice(["%}", "-%}"]) + rng.choice(data) +
                             "{{ raw }}" + rng.choice(data) + tag("endraw"))
            else:
                parts.append(tag("set y") + block(depth - 1) + tag("endset"))
            parts.append(rng.choice(data))
        return "".join(parts)

    out = []
    for _ in range(count):
        head = "{% set ns = namespace(n=0) %}{% set x = 0 %}{% set i = 5 %}" if rng.random() < 0.9 else ""
        out.append(head + block(3) + rng.choice(["", "\n", "\n\n"]))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    templates = {}
    source, bos, eos, arch = gguf_info(os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    templates["smollm2"] = {"source": source, "bos_token": bos, "eos_token": eos, "builtin": None,
                            "architecture": arch}
    # Gemma 3 270M ships no template: nagare falls back to the built-in for its architecture.
    source, bos, eos, arch = gguf_info(os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf"))
    assert source is None
    templates["gemma3-270m"] = {"source": BUILTINS["gemma"][0], "bos_token": bos, "eos_token": eos,
                                "builtin": "gemma", "architecture": arch}
    for name, (src, b, e) in BUILTINS.items():
        templates[name] = {"source": src, "bos_token": b, "eos_token": e, "builtin": name}
    real_dir = os.path.join(OUT, "templates")
    for fname in sorted(os.listdir(real_dir)):
        if fname.endswith(".jinja"):
            with open(os.path.join(real_dir, fname), encoding="utf-8", newline="") as f:
                templates[fname[:-len(".jinja")]] = {"source": f.read(), "bos_token": "<s>", "eos_token": "</s>",
                                                     "builtin": None, "file": "templates/" + fname}

    conversations = CONVERSATIONS + [TOOL_CONVERSATION]
    cases = []
    for tname, t in templates.items():
        for ci, conv in enumerate(conversations):
            extras = [0]
            if "file" in t and ci in (1, len(conversations) - 1):
                extras = [0, 1, 2]  # real templates: also with tools and enable_thinking=False
            for ei in extras:
                for agp in (False, True):
                    result = render(t["source"], conv, agp, t["bos_token"], t["eos_token"], EXTRAS[ei])
                    if "syntax_error" in result:
                        sys.exit(f"{tname} does not compile: {result['syntax_error']}")
                    cases.append({"template": tname, "conversation": ci, "extra": ei,
                                  "add_generation_prompt": agp, **result})
    for t in templates.values():
        t.pop("source") if "file" in t else None
    renders = {"now": NOW.strftime("%Y-%m-%dT%H:%M:%S"), "templates": templates,
               "conversations": conversations, "extras": EXTRAS, "cases": cases}
    with open(os.path.join(OUT, "renders.json"), "w", encoding="utf-8") as f:
        json.dump(renders, f, ensure_ascii=False, indent=1)

    feature_cases = []
    for name, source, extra in FEATURES:
        extra = dict(extra)
        messages = extra.pop("messages", M2)
        for agp in (False, True):
            result = render(source, messages, agp, "<s>", "</s>", extra)
            feature_cases.append({"name": name, "source": source, "messages": messages, "extra": extra,
                                  "add_generation_prompt": agp, **result})
    for i, e in enumerate(random_expressions(600)):
        source = "{{ " + e + " }}"
        result = render(source, M2, True, "<s>", "</s>", {})
        feature_cases.append({"name": f"random_{i}", "source": source, "messages": M2, "extra": {},
                              "add_generation_prompt": True, **result})
    for i, source in enumerate(random_templates(400)):
        result = render(source, M2, True, "<s>", "</s>", {})
        feature_cases.append({"name": f"random_template_{i}", "source": source, "messages": M2, "extra": {},
                              "add_generation_prompt": True, **result})
    for c in feature_cases:  # most cases use M2: store it once
        if c["messages"] == M2:
            del c["messages"]
        if not c["extra"]:
            del c["extra"]
    with open(os.path.join(OUT, "features.json"), "w", encoding="utf-8") as f:
        head = json.dumps({"now": NOW.strftime("%Y-%m-%dT%H:%M:%S"), "default_messages": M2}, ensure_ascii=False)
        f.write(head[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in feature_cases))
        f.write("\n]}\n")
    n_err = sum(1 for c in cases if "error" in c)
    print(f"renders.json: {len(cases)} cases ({n_err} errors) over {len(templates)} templates; "
          f"features.json: {len(feature_cases)} cases")


if __name__ == "__main__":
    main()
