"""Checkpoints in Redis: the RedisStore of :mod:`responses_stream.checkpoints`, and its scripts.

redis-py is an optional extra, imported only when a :class:`RedisStore` is created. The steps
every store shares (locking, planning, errors, stats, fork safety) are
:class:`._store_base._Store`'s; this module runs one server-side script per operation.
"""

from __future__ import annotations

import importlib
from typing import Any, List, Optional, Tuple

from . import _checkpoint_codec as codec
from ._store_base import Checkpoint, Stored, _Store
from .errors import ConfigurationError

__all__ = ["RedisStore"]

# Saves one checkpoint atomically (a script runs alone on the server).
# KEYS: the record hash, then segments 0..n-1. ARGV: expected token ('' = write everything),
# new token, record, TTL in ms ('0' = none), segment key prefix, slot limit, then one op per
# segment: 'k' keep, 'd' delete, 's'..bytes set, 'a'..bytes append.
# Returns 0 without writing when the stored token is not the expected one.
_SAVE_LUA = """
local meta = KEYS[1]
local kind = redis.call('TYPE', meta).ok
if kind ~= 'hash' and kind ~= 'none' then
  return redis.error_reply('checkpoint key ' .. meta .. ' holds a ' .. kind)
end
for i = 2, #KEYS do
  kind = redis.call('TYPE', KEYS[i]).ok
  if kind ~= 'string' and kind ~= 'none' then
    return redis.error_reply('checkpoint segment ' .. KEYS[i] .. ' holds a ' .. kind)
  end
end
if ARGV[1] ~= '' and redis.call('HGET', meta, 'token') ~= ARGV[1] then
  return 0
end
local old = math.min(tonumber(redis.call('HGET', meta, 'slots')) or 0, tonumber(ARGV[6]))
local n = #KEYS - 1
for i = 1, n do
  local op = ARGV[6 + i]
  local mode = string.sub(op, 1, 1)
  if mode == 's' then
    redis.call('SET', KEYS[1 + i], string.sub(op, 2))
  elseif mode == 'a' then
    redis.call('APPEND', KEYS[1 + i], string.sub(op, 2))
  elseif mode == 'd' then
    redis.call('DEL', KEYS[1 + i])
  end
end
for i = n, old - 1 do
  redis.call('DEL', ARGV[5] .. i)
end
redis.call('HSET', meta, 'token', ARGV[2], 'record', ARGV[3], 'slots', n)
local ttl = tonumber(ARGV[4])
for i = 1, #KEYS do
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[i], ttl)
  else
    redis.call('PERSIST', KEYS[i])
  end
end
return 1
"""

# Reads a record and its segments in one step. KEYS: the record hash. ARGV: segment key prefix,
# slot limit. Returns nil when there is no checkpoint, else {token, record, segment 0, ...}.
_LOAD_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local m = redis.call('HMGET', KEYS[1], 'token', 'record', 'slots')
if not m[1] or not m[2] then
  return redis.error_reply('checkpoint key ' .. KEYS[1] .. ' has no token or record')
end
local out = {m[1], m[2]}
local n = math.min(tonumber(m[3]) or 0, tonumber(ARGV[2]))
for i = 0, n - 1 do
  out[i + 3] = redis.call('GET', ARGV[1] .. i)
end
return out
"""

# Deletes a record and its segments. KEYS: the record hash. ARGV: segment key prefix, limit.
_DELETE_LUA = """
local n = 0
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  n = math.min(tonumber(redis.call('HGET', KEYS[1], 'slots')) or 0, tonumber(ARGV[2]))
end
redis.call('DEL', KEYS[1])
for i = 0, n - 1 do
  redis.call('DEL', ARGV[1] .. i)
end
return 1
"""

# A corrupt slot count must not make a script loop for long on the server.
_MAX_SLOTS = 100_000
_OPS = {"set": b"s", "append": b"a", "delete": b"d"}


def _import_redis() -> Any:
    # Through importlib, so that type checking this module needs neither redis-py nor the
    # packages it may import (it is an optional extra).
    try:
        redis = importlib.import_module("redis")
        importlib.import_module("redis.backoff")
        importlib.import_module("redis.retry")
    except ImportError as exc:
        raise ConfigurationError(
            "RedisStore needs redis-py: pip install 'responses-stream[redis]'"
        ) from exc
    return redis


class RedisStore(_Store):
    """Checkpoints in Redis, shared by processes on any number of machines.

    Give it a ``redis://`` URL (the store creates and closes its client, with ``timeout``
    seconds for connecting and for each reply, and a few quick retries) or a ``redis.Redis``
    client of yours (left open by :meth:`close`; keep its default ``decode_responses=False``).
    Keys start with ``prefix``; with ``ttl`` (seconds) every save sets them to expire.
    Each save, load and delete is one server-side script, so it is atomic. Use the server with
    a ``noeviction`` or ``volatile-*`` memory policy (an evicted segment makes its checkpoint
    unreadable: :class:`~responses_stream.errors.CheckpointError` on load), and with
    persistence (AOF) if checkpoints must outlive a restart of Redis itself.

    Keys for checkpoint ``K``: ``{prefix}{K}:meta``, a hash with the generation ``token``, the
    ``record`` JSON (skeleton) and the number of ``slots``; ``{prefix}{K}:seg:N``, a string
    per long string of the snapshot (a save APPENDs what it gained). The ``{K}`` braces are a
    Redis Cluster hash tag: one checkpoint's keys live on one node.
    """

    def __init__(
        self,
        url_or_client: Any,
        prefix: str = "responses_stream:",
        *,
        ttl: Optional[float] = None,
        timeout: float = 5.0,
    ) -> None:
        redis = _import_redis()
        if ttl is not None and ttl <= 0:
            raise ConfigurationError(f"ttl must be positive seconds or None, got {ttl!r}")
        self.prefix = prefix
        """What every key of this store starts with."""
        self._ttl_ms = 0 if ttl is None else max(1, int(ttl * 1000))
        self._owns_client = isinstance(url_or_client, str)
        if isinstance(url_or_client, str):
            # A few quick retries: a checkpoint is saved again within a second anyway, so
            # failing fast beats blocking the stream for redis-py's default ~5 s of retries.
            self._client: Any = redis.Redis.from_url(
                url_or_client,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=redis.retry.Retry(redis.backoff.ExponentialBackoff(cap=0.2, base=0.02), 2),
            )
        elif hasattr(url_or_client, "register_script"):
            self._client = url_or_client
        else:
            raise ConfigurationError(
                f"RedisStore needs a redis:// URL or a redis.Redis client, got {url_or_client!r}"
            )
        self._save_script = self._client.register_script(_SAVE_LUA)
        self._load_script = self._client.register_script(_LOAD_LUA)
        self._delete_script = self._client.register_script(_DELETE_LUA)
        super().__init__("Redis")

    def __repr__(self) -> str:
        return f"RedisStore({self._client!r}, prefix={self.prefix!r})"

    def _keys(self, key: str) -> Tuple[str, str]:
        base = f"{self.prefix}{{{key}}}"
        return f"{base}:meta", f"{base}:seg:"

    def _read(self, key: str) -> Optional[Stored]:
        meta, seg = self._keys(key)
        reply = self._load_script(keys=[meta], args=[seg, _MAX_SLOTS])
        if reply is None:
            return None
        record, parts = reply[1], reply[2:]
        segments = {i: codec.as_bytes(p) for i, p in enumerate(parts) if p is not None}
        return codec.as_bytes(record), segments

    def _commit(self, checkpoint: Checkpoint, plan: codec.SavePlan, expected: str) -> bool:
        meta, seg = self._keys(checkpoint.key)
        ops: List[bytes] = [b"k"] * plan.slots
        for write in plan.writes:
            if write.slot < plan.slots:  # slots past the end are deleted by the script
                ops[write.slot] = _OPS[write.mode] + write.data
        keys = [meta] + [f"{seg}{slot}" for slot in range(plan.slots)]
        args: List[Any] = [expected, plan.state.token, plan.record, self._ttl_ms, seg, _MAX_SLOTS]
        return bool(self._save_script(keys=keys, args=args + ops))

    def _remove(self, key: str) -> None:
        meta, seg = self._keys(key)
        self._delete_script(keys=[meta], args=[seg, _MAX_SLOTS])

    def close(self) -> None:
        """Close the client if the store created it from a URL; a client you gave stays open."""
        with self._lock:
            self._states.clear()
            if self._owns_client:
                self._client.close()
