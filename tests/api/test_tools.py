"""Tool calling through the official openai client and LiteLLM against the real server.

The SmolLM2 test model's template knows no tools, so nagare describes them in the system message
and parses the generic JSON call format; a second server runs the same model with a Hermes-style
template (tests/api/templates/hermes_tools.jinja: <tool_call> tags, the template's own `tools`
variable). With tool_choice "required" or a named function the call is grammar-constrained, so
even this tiny model's arguments always validate against the function's parameters schema.
"""
import json
from pathlib import Path

import jsonschema
import litellm
import openai
import pytest

from conftest import REQUEST_TIMEOUT_S, running_server

WEATHER_PARAMS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 20},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TIME_PARAMS = {
    "type": "object",
    "properties": {"timezone": {"type": "string", "enum": ["UTC", "Asia/Tokyo", "Europe/Paris"]}},
    "required": ["timezone"],
    "additionalProperties": False,
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                      "parameters": WEATHER_PARAMS}},
    {"type": "function", "function": {"name": "get_time", "description": "Current time in a timezone",
                                      "parameters": TIME_PARAMS}},
]
PARAMS = {"get_weather": WEATHER_PARAMS, "get_time": TIME_PARAMS}
ASK = [{"role": "user", "content": "What is the weather in Paris right now?"}]
HERMES_TEMPLATE = Path(__file__).parent / "templates" / "hermes_tools.jinja"


def check_calls(calls, names=PARAMS):
    assert calls, "no tool calls"
    for call in calls:
        assert call.type == "function"
        assert call.id.startswith("call_")
        assert call.function.name in names
        jsonschema.validate(json.loads(call.function.arguments), PARAMS[call.function.name])


def streamed_calls(stream):
    """Accumulates delta.tool_calls the way OpenAI's own SDK helpers do; returns calls, content, finish."""
    calls, content, finish = {}, "", None
    for chunk in stream:
        for choice in chunk.choices:
            delta = choice.delta
            content += delta.content or ""
            for tc in delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
            finish = choice.finish_reason or finish
    return [calls[i] for i in sorted(calls)], content, finish


@pytest.mark.parametrize("temperature", [0, 1.0])
def test_required_call_validates(client, model_name, temperature):
    # The grammar makes every call valid but cannot make it short: at temperature 1 a sampled
    # argument may run on (seed 3 reached 120 tokens once attention's arithmetic changed), and
    # finish "length" says nothing about validity, so the room is ample.
    r = client.chat.completions.create(model=model_name, messages=ASK, tools=TOOLS, tool_choice="required",
                                       temperature=temperature, seed=3, max_tokens=400)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    check_calls(choice.message.tool_calls)


def test_named_function_is_the_one_called(client, model_name):
    # Greedy: at temperature 1 about one unseeded run in seven reached max_tokens first
    # (finish "length", no calls parsed), which says nothing about the named choice.
    r = client.chat.completions.create(model=model_name, messages=ASK, tools=TOOLS, max_tokens=120, temperature=0,
                                       tool_choice={"type": "function", "function": {"name": "get_time"}})
    calls = r.choices[0].message.tool_calls
    check_calls(calls)
    assert {c.function.name for c in calls} == {"get_time"}


def test_parallel_false_gives_one_call_and_n_choices_each_call(client, model_name):
    r = client.chat.completions.create(model=model_name, messages=ASK, tools=TOOLS, tool_choice="required",
                                       parallel_tool_calls=False, n=2, temperature=1.0, seed=5, max_tokens=120)
    assert len(r.choices) == 2
    for choice in r.choices:
        assert choice.finish_reason == "tool_calls"
        assert len(choice.message.tool_calls) == 1
        check_calls(choice.message.tool_calls)


def test_streamed_calls_equal_the_whole_answer(client, model_name):
    kwargs = dict(model=model_name, messages=ASK, tools=TOOLS, tool_choice="required", temperature=0, max_tokens=120)
    whole = client.chat.completions.create(**kwargs).choices[0].message.tool_calls
    calls, content, finish = streamed_calls(client.chat.completions.create(stream=True, **kwargs))
    assert finish == "tool_calls"
    assert content == ""
    assert [(c["name"], c["arguments"]) for c in calls] == [(c.function.name, c.function.arguments) for c in whole]
    assert all(c["id"].startswith("call_") for c in calls)


def test_two_turn_round_trip(client, model_name):
    first = client.chat.completions.create(model=model_name, messages=ASK, tools=TOOLS, tool_choice="required",
                                           temperature=0, max_tokens=120)
    call = first.choices[0].message.tool_calls[0]
    messages = ASK + [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 18, "sky": "clear"})},
    ]
    second = client.chat.completions.create(model=model_name, messages=messages, tools=TOOLS, tool_choice="none",
                                            temperature=0, max_tokens=40)
    choice = second.choices[0]
    assert choice.finish_reason in ("stop", "length")
    assert choice.message.tool_calls is None
    assert choice.message.content
    # The call and its result reached the prompt: longer than the question alone (tools off too).
    alone = client.chat.completions.create(model=model_name, messages=ASK, tools=TOOLS, tool_choice="none",
                                           max_tokens=1)
    assert second.usage.prompt_tokens > alone.usage.prompt_tokens + 20


def test_auto_answers_text_or_valid_calls(client, model_name):
    r = client.chat.completions.create(model=model_name, messages=[{"role": "user", "content": "Say hello."}],
                                       tools=TOOLS, temperature=0, max_tokens=30)
    choice = r.choices[0]
    if choice.message.tool_calls:
        assert choice.finish_reason == "tool_calls"
        check_calls(choice.message.tool_calls)
    else:
        assert choice.finish_reason in ("stop", "length")
        assert choice.message.content


def test_litellm_tool_calling_path(server, model_name):
    r = litellm.completion(model=f"openai/{model_name}", api_base=f"{server.url}/v1", api_key="unused",
                           messages=ASK, tools=TOOLS, tool_choice="required", temperature=0, max_tokens=120,
                           timeout=REQUEST_TIMEOUT_S)
    calls = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls"
    assert calls and calls[0].function.name in PARAMS
    jsonschema.validate(json.loads(calls[0].function.arguments), PARAMS[calls[0].function.name])


@pytest.mark.parametrize("body, param", [
    ({"tools": [{"type": "function"}]}, "tools[0].function"),
    ({"tools": TOOLS, "tool_choice": "always"}, "tool_choice"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "not": {}}}}],
      "tool_choice": "required"}, "tools[0].function.parameters"),
    ({"tools": TOOLS, "tool_choice": "required", "response_format": {"type": "json_object"}}, "tool_choice"),
    ({"messages": [{"role": "tool", "content": "18 C"}]}, "messages[0].tool_call_id"),
])
def test_bad_tool_requests_are_400_naming_the_field(client, model_name, body, param):
    request = {"model": model_name, "messages": ASK, "max_tokens": 8, **body}
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(**request)
    assert e.value.status_code == 400
    assert e.value.body["param"] == param


def test_completions_refuse_tools(client, model_name):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model_name, prompt="Hi", max_tokens=4, extra_body={"tools": TOOLS})
    assert e.value.body["param"] == "tools"


@pytest.fixture(scope="module")
def hermes_client():
    with running_server("--chat-template-file", str(HERMES_TEMPLATE)) as s:
        yield openai.OpenAI(base_url=f"{s.url}/v1", api_key="unused", max_retries=0, timeout=REQUEST_TIMEOUT_S)


def test_hermes_template_gets_tools_and_its_calls_parse(hermes_client, model_name):
    plain = hermes_client.chat.completions.create(model=model_name, messages=ASK, temperature=0, max_tokens=1)
    r = hermes_client.chat.completions.create(model=model_name, messages=ASK, tools=TOOLS, tool_choice="required",
                                              temperature=0, max_tokens=150)
    # The template wrote the tools into the prompt itself.
    assert r.usage.prompt_tokens > plain.usage.prompt_tokens + 50
    assert r.choices[0].finish_reason == "tool_calls"
    check_calls(r.choices[0].message.tool_calls)
    calls, content, finish = streamed_calls(hermes_client.chat.completions.create(
        model=model_name, messages=ASK, tools=TOOLS, tool_choice="required", temperature=0, max_tokens=150,
        stream=True))
    assert finish == "tool_calls" and content == ""
    assert [(c["name"], c["arguments"]) for c in calls] == [
        (c.function.name, c.function.arguments) for c in r.choices[0].message.tool_calls]


def test_hermes_round_trip_renders_tool_messages(hermes_client, model_name):
    messages = ASK + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather",
                                                              "arguments": '{"city": "Paris", "unit": "celsius"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C, clear"},
    ]
    r = hermes_client.chat.completions.create(model=model_name, messages=messages, tools=TOOLS, temperature=0,
                                              max_tokens=20)
    assert r.choices[0].finish_reason in ("stop", "length", "tool_calls")
    assert r.usage.prompt_tokens > 100


def test_ollama_chat_with_tools(server, model_name):
    import httpx
    import ollama
    oc = ollama.Client(host=server.url, timeout=REQUEST_TIMEOUT_S)
    plain = oc.chat(model=model_name, messages=ASK, options={"num_predict": 1})
    with_tools = oc.chat(model=model_name, messages=ASK, tools=TOOLS, options={"num_predict": 1})
    assert with_tools.prompt_eval_count > plain.prompt_eval_count + 50  # the tools are in the prompt
    # A round trip in Ollama's shapes: calls with object arguments, results with tool_name.
    history = ASK + [
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
        {"role": "tool", "tool_name": "get_weather", "content": "18 C"},
    ]
    r = oc.chat(model=model_name, messages=history, tools=TOOLS, options={"num_predict": 8, "temperature": 0})
    assert r.done and r.prompt_eval_count > with_tools.prompt_eval_count
    # nagare's extension: tool_choice forces a call, which comes back in Ollama's shape. One call
    # (parallel_tool_calls false, the other extension): the 135M model's greedy answer may
    # otherwise go on listing calls past num_predict, which a last-bit change in the arithmetic
    # can bring about, and then no call is complete.
    for stream in (False, True):
        body = {"model": model_name, "messages": ASK, "tools": TOOLS, "tool_choice": "required", "stream": stream,
                "parallel_tool_calls": False, "options": {"temperature": 0, "num_predict": 120}}
        resp = httpx.post(f"{server.url}/api/chat", json=body, timeout=REQUEST_TIMEOUT_S)
        assert resp.status_code == 200
        lines = [json.loads(line) for line in resp.text.splitlines() if line.strip()]
        calls = [c for obj in lines for c in obj["message"].get("tool_calls", [])]
        assert len(calls) >= 1 and lines[-1]["done"]
        for c in calls:
            assert c["function"]["name"] in PARAMS
            jsonschema.validate(c["function"]["arguments"], PARAMS[c["function"]["name"]])
