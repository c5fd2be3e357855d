"""Creates the GenAI client histograms and records each stream's, run's and tool's figures.

The instruments are ``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage``,
``gen_ai.client.operation.time_to_first_chunk``, ``gen_ai.invoke_agent.duration`` and
``gen_ai.execute_tool.duration``, with the conventions' advisory bucket boundaries. The
``Meter`` comes from :meth:`responses_stream._tracing.Tracing.configure`; nothing here imports
``opentelemetry``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence, Tuple

from ._tracing_attributes import (
    _AGENT_NAME,
    _ERROR_TYPE,
    _OPENAI_RESPONSE_SERVICE_TIER,
    _REQUEST_MODEL,
    _TOKEN_TYPE,
    _TOOL_NAME,
    _TOOL_TYPE,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, Meter

# The conventions' ExplicitBucketBoundaries advice for each histogram.
_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
_TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
_AGENT_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)


class Instruments:
    """The histograms of one :class:`~responses_stream._tracing.Tracing`, created once."""

    def __init__(self, meter: Meter) -> None:
        self.duration = _histogram(
            meter,
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration.",
            _DURATION_BUCKETS,
        )
        self.tokens = _histogram(
            meter,
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used.",
            _TOKEN_BUCKETS,
        )
        self.time_to_first_chunk = _histogram(
            meter,
            "gen_ai.client.operation.time_to_first_chunk",
            "s",
            "Time to receive the first chunk, measured from when the client issues the "
            "generation request to when the first chunk is received in the response stream.",
            _DURATION_BUCKETS,
        )
        self.agent_duration = _histogram(
            meter,
            "gen_ai.invoke_agent.duration",
            "s",
            "The end-to-end duration of a single agent invocation.",
            _AGENT_BUCKETS,
        )
        self.tool_duration = _histogram(
            meter,
            "gen_ai.execute_tool.duration",
            "s",
            "The duration of a single tool execution.",
            _DURATION_BUCKETS,
        )

    def record_stream(
        self,
        elapsed: float,
        base: Mapping[str, Any],
        error_type: Optional[str],
        usage: Tuple[Optional[int], Optional[int]],
        first_chunk: Optional[float],
    ) -> None:
        """Record one stream: its duration, its input and output tokens, its first chunk.

        ``base`` holds the attributes every one of its measurements carries (operation,
        provider, models, server, service tier).
        """
        self.duration.record(elapsed, _with_error(base, error_type))
        for token_type, count in zip(("input", "output"), usage):
            if count is not None:
                self.tokens.record(count, {**base, _TOKEN_TYPE: token_type})
        if first_chunk is not None:
            # The OpenAI refinement adds the service tier to duration and usage only.
            chunk_attributes = dict(base)
            chunk_attributes.pop(_OPENAI_RESPONSE_SERVICE_TIER, None)
            self.time_to_first_chunk.record(first_chunk, chunk_attributes)

    def record_run(
        self,
        elapsed: float,
        model: Optional[str],
        agent_name: Optional[str],
        error_type: Optional[str],
    ) -> None:
        """Record the duration of one ``client.run()`` (an ``invoke_agent`` operation)."""
        attributes: Dict[str, Any] = {}
        if model is not None:
            attributes[_REQUEST_MODEL] = model
        if agent_name:
            attributes[_AGENT_NAME] = agent_name
        self.agent_duration.record(elapsed, _with_error(attributes, error_type))

    def record_tool(self, elapsed: float, name: str, error_type: Optional[str]) -> None:
        """Record the duration of one tool call (an ``execute_tool`` operation)."""
        attributes = {_TOOL_NAME: name, _TOOL_TYPE: "function"}
        self.tool_duration.record(elapsed, _with_error(attributes, error_type))


def _with_error(attributes: Mapping[str, Any], error_type: Optional[str]) -> Dict[str, Any]:
    """A copy of ``attributes``, with ``error.type`` when the operation failed."""
    if error_type is None:
        return dict(attributes)
    return {**attributes, _ERROR_TYPE: error_type}


def _histogram(
    meter: Meter, name: str, unit: str, description: str, buckets: Sequence[float]
) -> Histogram:
    try:
        return meter.create_histogram(
            name, unit, description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:
        # opentelemetry-api < 1.30 has no advisory parameter: default buckets beat no metric.
        return meter.create_histogram(name, unit, description)
