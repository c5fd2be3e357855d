"""Typical user code; CI type-checks it with ``mypy --strict`` (it is never executed)."""

from __future__ import annotations

from typing import List, Optional

import responses_stream as rs


class Printer(rs.ResponseHandler):
    def __init__(self) -> None:
        self.parts: List[str] = []

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.parts.append(delta)

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        args = call.parsed_arguments
        print(call.name, call.call_id, args.get("city"))

    def on_reasoning_done(self, reasoning: rs.Reasoning) -> None:
        encrypted: Optional[str] = reasoning.encrypted_content
        print(reasoning.summary_text, encrypted)

    def on_completed(self, response: rs.Response) -> None:
        if response.usage is not None:
            total: Optional[int] = response.usage.total_tokens
            print(total)

    def on_error(self, error: rs.events.ErrorEvent) -> None:
        print(error.code, error.message)

    def on_output_text_annotation_added(self, event: rs.events.OutputTextAnnotationAdded) -> None:
        print(event.annotation)


def main() -> None:
    with rs.Client(timeout=rs.Timeout(connect=5, read=30), max_retries=3) as client:
        try:
            final: rs.Response = client.stream(handler=Printer(), model="gpt-5", input="Hi")
        except rs.RateLimitError as exc:
            print(exc.status_code, exc.request_id, exc.code)
            return
        except rs.StreamInterrupted as exc:
            partial: Optional[rs.Response] = exc.response
            print(partial.output_text if partial else "", exc.last_sequence_number)
            return
        except rs.ResponsesStreamError as exc:
            print(exc.message)
            return
        text: str = final.output_text
        status: Optional[str] = final.status
        print(text, status)
        for item in final.output:
            if isinstance(item, rs.Message):
                print(item.text)
            elif isinstance(item, dict):
                print(item.get("type"))

        with client.events(model="gpt-5", input="Hi", max_output_tokens=50) as stream:
            for event in stream:
                if isinstance(event, rs.events.OutputTextDelta):
                    delta: Optional[str] = event.delta
                    print(delta)
            snapshot: rs.Response = stream.response
            print(snapshot.id)

        # events() takes stream()'s keywords (but the handler), typed.
        background = client.events(
            model="gpt-5",
            input="Hi",
            background=True,
            cancel_on_stop=True,
            max_resumes=3,
            timeout=rs.Timeout(read=30),
            record_to="run.sse",
            accumulate=False,
        )
        with background:
            final_response: rs.Response = background.until_done()
            print(final_response.status)
        # A keyword of the wrong type is an error (--strict reports an ignore that is unused).
        client.events(model="gpt-5", input="Hi", cancel_on_stop="yes")  # type: ignore[arg-type]
    again: rs.Response = rs.replay(b"", Printer())
    print(again.status, rs.stream(Printer(), model="m", input="x").id)
