"""Names the GenAI span attributes and derives their values from requests, responses and errors.

The attribute keys and the rules that fill them follow the OpenTelemetry GenAI semantic
conventions, as summed up in :mod:`responses_stream._tracing`. Everything here is plain data
in and plain data out: no ``opentelemetry`` import, so the spans and the metrics modules can
share it without pulling the API in. The opt-in content (instructions, input and output
messages) is turned into the conventions' message schema here too, as JSON strings.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional

from .errors import ResponseFailedError, StreamError

# Attribute keys, spelled out rather than taken from opentelemetry-semantic-conventions: that
# package is not a dependency of the extra, and its GenAI names are marked as moved.
_OPERATION = "gen_ai.operation.name"
_PROVIDER = "gen_ai.provider.name"
_REQUEST_MODEL = "gen_ai.request.model"
_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
_REQUEST_STREAM = "gen_ai.request.stream"
_RESPONSE_ID = "gen_ai.response.id"
_RESPONSE_MODEL = "gen_ai.response.model"
_FINISH_REASONS = "gen_ai.response.finish_reasons"
_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
_INPUT_TOKENS = "gen_ai.usage.input_tokens"
_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
_CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
_REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
_OUTPUT_TYPE = "gen_ai.output.type"
_CONVERSATION_ID = "gen_ai.conversation.id"
_AGENT_NAME = "gen_ai.agent.name"
_TOKEN_TYPE = "gen_ai.token.type"
_TOOL_NAME = "gen_ai.tool.name"
_TOOL_CALL_ID = "gen_ai.tool.call.id"
_TOOL_TYPE = "gen_ai.tool.type"
_TOOL_DESCRIPTION = "gen_ai.tool.description"
_TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
_TOOL_RESULT = "gen_ai.tool.call.result"
_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
_INPUT_MESSAGES = "gen_ai.input.messages"
_OUTPUT_MESSAGES = "gen_ai.output.messages"
_OPENAI_API_TYPE = "openai.api.type"
_OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
_OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
_SERVER_ADDRESS = "server.address"
_SERVER_PORT = "server.port"
_ERROR_TYPE = "error.type"
_REQUEST_ID = "responses_stream.request_id"
_RETRIES = "responses_stream.retries"
_RESUMES = "responses_stream.resumes"

_REQUEST_NUMBERS = (
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
)

# Output items the client must act on: a turn that ends with one stopped to request a tool.
_CLIENT_CALLS = frozenset(
    {
        "function_call",
        "custom_tool_call",
        "computer_call",
        "local_shell_call",
        "shell_call",
        "apply_patch_call",
    }
)
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "max_tokens": "length"}


# ------------------------------------------------------------------------------ values


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` for a mapping, else ``obj.key``; ``None`` when missing."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else str(value)


def _parse_arguments(arguments: Any) -> Any:
    """The arguments as an object when they are a JSON string (the conventions ask for one)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def _request_attributes(request: Mapping[str, Any], openai: bool) -> Dict[str, Any]:
    """The request's recommended and conditionally required attributes that are present."""
    attributes: Dict[str, Any] = {}
    model = request.get("model")
    if isinstance(model, str) and model:
        attributes[_REQUEST_MODEL] = model
    max_tokens = request.get("max_output_tokens")
    if _is_int(max_tokens):
        attributes[_REQUEST_MAX_TOKENS] = max_tokens
    for key, attribute in _REQUEST_NUMBERS:
        value: Any = request.get(key)
        if _is_number(value):
            attributes[attribute] = float(value)
    format_type = _get(_get(request.get("text"), "format"), "type")
    if format_type in ("json_schema", "json_object"):
        attributes[_OUTPUT_TYPE] = "json"
    elif format_type == "text":
        attributes[_OUTPUT_TYPE] = "text"
    conversation = request.get("conversation")
    conversation_id = conversation if isinstance(conversation, str) else _get(conversation, "id")
    if isinstance(conversation_id, str) and conversation_id:
        attributes[_CONVERSATION_ID] = conversation_id
    if openai:
        attributes[_OPENAI_API_TYPE] = "responses"
        tier = request.get("service_tier")
        # Conditionally required "if the request includes a service_tier and it is not auto".
        if isinstance(tier, str) and tier and tier != "auto":
            attributes[_OPENAI_REQUEST_SERVICE_TIER] = tier
    return attributes


def _response_attributes(response: Any, openai: bool) -> Dict[str, Any]:
    attributes: Dict[str, Any] = {}
    for key, attribute in (("id", _RESPONSE_ID), ("model", _RESPONSE_MODEL)):
        value = _get(response, key)
        if isinstance(value, str) and value:
            attributes[attribute] = value
    usage = _get(response, "usage")
    if usage is not None:
        for key, attribute in (("input_tokens", _INPUT_TOKENS), ("output_tokens", _OUTPUT_TOKENS)):
            value = _get(usage, key)
            if _is_int(value):
                attributes[attribute] = value
        cached = _get(_get(usage, "input_tokens_details"), "cached_tokens")
        if _is_int(cached):
            attributes[_CACHE_READ_TOKENS] = cached
        reasoning = _get(_get(usage, "output_tokens_details"), "reasoning_tokens")
        if _is_int(reasoning):
            attributes[_REASONING_TOKENS] = reasoning
    if openai:
        tier = _get(response, "service_tier")
        if isinstance(tier, str) and tier:
            attributes[_OPENAI_RESPONSE_SERVICE_TIER] = tier
    return attributes


def _finish_reason(response: Any, *, failed: bool) -> str:
    """The response's finish reason (see the module docstring for the mapping)."""
    status = _get(response, "status")
    if status == "completed":
        items = _get(response, "output") or ()
        calls = any(_get(item, "type") in _CLIENT_CALLS for item in items)
        return "tool_call" if calls else "stop"
    if status == "incomplete":
        reason = _get(_get(response, "incomplete_details"), "reason")
        if isinstance(reason, str) and reason:
            return _INCOMPLETE_REASONS.get(reason, reason)
        return "length"
    if status == "failed" or failed:
        return "error"
    return "cancelled"


def _first_chunk(first_token: Optional[float], started: float, metrics: Any) -> Optional[float]:
    if first_token is not None:
        return max(first_token - started, 0.0)
    # The core measured it without calling first_token(): take its figure.
    value: Any = _get(metrics, "time_to_first_token") if metrics is not None else None
    return float(value) if _is_number(value) else None


def _stream_extras(metrics: Any) -> Dict[str, Any]:
    if metrics is None:
        return {}
    extras: Dict[str, Any] = {}
    request_id = _get(metrics, "request_id")
    if isinstance(request_id, str) and request_id:
        extras[_REQUEST_ID] = request_id
    for key, attribute in (("retries", _RETRIES), ("resumes", _RESUMES)):
        value = _get(metrics, key)
        if _is_int(value) and value > 0:
            extras[attribute] = value
    return extras


def _error_type(error: Optional[BaseException], response: Any) -> Optional[str]:
    """``error.type``: the provider's error code when there is one, else the class name."""
    if error is not None:
        if isinstance(error, StreamError) and error.code:
            return error.code
        if isinstance(error, ResponseFailedError):
            failed = error.response if error.response is not None else response
            code = _get(_get(failed, "error"), "code")
            if isinstance(code, str) and code:
                return code
        return type(error).__qualname__
    if response is not None and _get(response, "status") == "failed":
        code = _get(_get(response, "error"), "code")
        return code if isinstance(code, str) and code else "_OTHER"
    return None


def _error_message(error: Optional[BaseException], response: Any, content: bool) -> str:
    """The ERROR status's description. Without ``content`` no message is quoted: a tool's
    exception, bad arguments or a malformed event may carry prompts, answers or arguments.
    What is left: the error's type, HTTP status and error code."""
    if error is not None:
        if content:
            return str(error) or type(error).__qualname__
        details = [
            f"{name} {value}"
            for name, value in (
                ("HTTP", getattr(error, "status_code", None)),
                ("code", getattr(error, "code", None)),
            )
            if isinstance(value, (int, str)) and not isinstance(value, bool)
        ]
        return type(error).__qualname__ + (f" ({', '.join(details)})" if details else "")
    failure = _get(response, "error")
    message = _get(failure, "message") if content else _get(failure, "code")
    return message if isinstance(message, str) else "response.failed"


# ------------------------------------------------------------------------------ content


def _request_content(request: Mapping[str, Any]) -> Dict[str, Any]:
    """The opt-in instructions and input messages, as JSON strings."""
    attributes: Dict[str, Any] = {}
    instructions = request.get("instructions")
    if isinstance(instructions, str) and instructions:
        attributes[_SYSTEM_INSTRUCTIONS] = _dumps([{"type": "text", "content": instructions}])
    messages = _input_messages(request.get("input"))
    if messages:
        attributes[_INPUT_MESSAGES] = _dumps(messages)
    return attributes


def _input_messages(value: Any) -> List[Dict[str, Any]]:
    """The request's ``input`` in the conventions' input-messages schema, one per item.

    Items that carry no message content (item references, compaction) are left out.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"type": "text", "content": value}]}]
    items = [value] if isinstance(value, Mapping) else list(value)
    messages: List[Dict[str, Any]] = []
    for item in items:
        kind = _get(item, "type")
        role = _get(item, "role")
        if isinstance(role, str) and kind in (None, "message"):
            messages.append({"role": role, "parts": _content_parts(_get(item, "content"))})
        elif kind == "function_call_output":
            part = {"type": "tool_call_response", "id": _get(item, "call_id")}
            part["response"] = _get(item, "output")
            messages.append({"role": "tool", "parts": [part]})
        elif isinstance(kind, str):
            part_or_none = _item_part(item, kind)
            if part_or_none is not None:
                messages.append({"role": "assistant", "parts": [part_or_none]})
    return messages


def _content_parts(content: Any) -> List[Dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: List[Dict[str, Any]] = []
    for part in content or ():
        kind = _get(part, "type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "content": _get(part, "text") or ""})
        elif kind == "refusal":
            parts.append({"type": "text", "content": _get(part, "refusal") or ""})
        elif kind == "input_image" and _get(part, "image_url"):
            parts.append({"type": "uri", "modality": "image", "uri": _get(part, "image_url")})
        elif kind in ("input_image", "input_file") and _get(part, "file_id"):
            modality = "image" if kind == "input_image" else "document"
            parts.append({"type": "file", "modality": modality, "file_id": _get(part, "file_id")})
        elif isinstance(kind, str):
            parts.append({"type": kind})
    return parts


def _item_part(item: Any, kind: str) -> Optional[Dict[str, Any]]:
    """An output (or replayed input) item as one message part, ``None`` if it has no content."""
    if kind in _CLIENT_CALLS:
        arguments = _get(item, "arguments")
        if arguments is None:
            arguments = _get(item, "input") if kind == "custom_tool_call" else _get(item, "action")
        return {
            "type": "tool_call",
            "id": _get(item, "call_id"),
            "name": _get(item, "name") or kind,
            "arguments": _parse_arguments(arguments),
        }
    if kind == "reasoning":
        texts = [_get(p, "text") for p in (_get(item, "summary") or ())]
        texts += [_get(p, "text") for p in (_get(item, "content") or ())]
        text = "\n".join(t for t in texts if isinstance(t, str) and t)
        return {"type": "reasoning", "content": text} if text else None
    if kind.endswith("_call"):
        # Built-in tools the server ran (web search, file search, code interpreter, MCP...).
        return {
            "type": "server_tool_call",
            "id": _get(item, "id"),
            "name": kind,
            "server_tool_call": {"type": kind},
        }
    return None


def _output_messages(response: Any, finish_reason: str) -> List[Dict[str, Any]]:
    """The response's output as one assistant message (one generation) of the schema."""
    parts: List[Dict[str, Any]] = []
    for item in _get(response, "output") or ():
        kind = _get(item, "type")
        if kind == "message":
            parts.extend(_content_parts(_get(item, "content")))
        elif isinstance(kind, str):
            part = _item_part(item, kind)
            if part is not None:
                parts.append(part)
    return [{"role": "assistant", "parts": parts, "finish_reason": finish_reason}]
