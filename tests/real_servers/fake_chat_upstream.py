"""A minimal OpenAI Chat Completions upstream (stdlib only) for proxies such as LiteLLM that
translate Responses API requests into Chat Completions.

``python fake_chat_upstream.py PORT``. Streams (or returns) a fixed reply word by word, honours
``max_tokens``/``max_completion_tokens`` (one word per token, then ``finish_reason: "length"``),
answers a request that offers tools with one call of the first tool (arguments
``{"city": "Paris", "unit": "celsius"}``, streamed in pieces), and answers a request that carries a
tool result with ``Tool said: <result>``. Adapted from
``shared/tools/real-servers/fake_chat_upstream.py`` (see SOURCES.md).
"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

REPLY = [
    "Hello",
    " from",
    " the",
    " fake",
    " chat",
    " upstream",
    " \u2014",
    " caf\u00e9",
    " \U0001f642",
    "!",
]
TOOL_ARGUMENTS = ['{"city": ', '"Paris", ', '"unit": "celsius"}']


def _plan(req: Dict[str, Any]) -> Tuple[List[str], Optional[Dict[str, Any]], str]:
    """The reply words, the tool call (if any) and the finish reason for a request."""
    messages = req.get("messages") or []
    tool_results = [m for m in messages if m.get("role") == "tool"]
    tools = req.get("tools") or []
    if tool_results:
        content = tool_results[-1].get("content")
        if isinstance(content, list):
            content = "".join(c.get("text", "") for c in content if isinstance(c, dict))
        words = ["Tool", " said:"] + [" " + w for w in str(content).split()]
    elif tools and req.get("tool_choice") != "none":
        name = (tools[0].get("function") or {}).get("name") or tools[0].get("name")
        return [], {"id": "call_fake_1", "name": name}, "tool_calls"
    else:
        words = list(REPLY)
    limit = req.get("max_completion_tokens") or req.get("max_tokens")
    if isinstance(limit, int) and 0 < limit < len(words):
        return words[:limit], None, "length"
    return words, None, "stop"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write("fake-upstream: " + (format % args) + "\n")

    def _send_json(self, body: Dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        model = {"id": "fake-model", "object": "model", "created": 0, "owned_by": "me"}
        self._send_json({"object": "list", "data": [model]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        req = json.loads(self.rfile.read(length) or b"{}")
        sys.stderr.write("fake-upstream request: " + json.dumps(req)[:2000] + "\n")
        words, call, finish = _plan(req)
        base = {
            "id": "chatcmpl-fake123",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": req.get("model", "fake-model"),
        }
        completion_tokens = len(words) if call is None else len(TOOL_ARGUMENTS)
        usage = {
            "prompt_tokens": 5,
            "completion_tokens": completion_tokens,
            "total_tokens": 5 + completion_tokens,
        }
        if not req.get("stream"):
            message: Dict[str, Any] = {"role": "assistant", "content": "".join(words) or None}
            if call is not None:
                message["tool_calls"] = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": "".join(TOOL_ARGUMENTS)},
                    }
                ]
            choice = {"index": 0, "finish_reason": finish, "message": message}
            self._send_json(
                {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

        def chunk(delta: Dict[str, Any], finish_reason: Optional[str] = None) -> Dict[str, Any]:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return {**base, "choices": [choice]}

        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"content": w}) for w in words]
        if call is not None:
            first = {
                "index": 0,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": ""},
            }
            chunks.append(chunk({"tool_calls": [first]}))
            chunks += [
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                for piece in TOOL_ARGUMENTS
            ]
        chunks.append(chunk({}, finish))
        if (req.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": usage})
        for c in chunks:
            self.wfile.write(b"data: " + json.dumps(c).encode() + b"\n\n")
            self.wfile.flush()
            time.sleep(0.01)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8013
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
