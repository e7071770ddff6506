"""The agent's bounded cache of assembled request contexts: real, touched memory, on purpose.

Why it exists: Runbook 1 ("Agent Down"), cause 1, is the pod being OOM-killed because its cgroup memory
limit is too small for the traffic. For a drill to reproduce that, the agent's RSS must really follow the
traffic's ``context_kb``: each request holds its context buffer while it runs, and the last
``CONTEXT_CACHE_ENTRIES`` conversations' buffers stay resident afterwards, so the kernel - not a
simulation - kills the process when the limit is lowered, and raising the limit (or lowering the entry
count) is a remediation that visibly works. ``agent_context_cache_bytes`` shows how much is held.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from refsystem.metrics import Metrics


class ContextCache:
    """Bounded LRU of assembled request contexts: DELIBERATE, real memory (see module docstring).

    ``bytearray(b"\\x01") * n`` memsets every byte, so every page is touched and counted in RSS and in
    the cgroup; lazily-zeroed allocations would not be, and the OOM drill would not reproduce.
    """

    def __init__(self, entries: int, metrics: Metrics) -> None:
        self._entries, self._m = entries, metrics
        self._lock = threading.Lock()
        self._data: OrderedDict[str, bytearray] = OrderedDict()
        self._bytes = 0

    def assemble(self, conversation_id: str, context_kb: int) -> bytearray:
        """Build this request's context buffer and keep it cached under its conversation."""
        buf = bytearray(b"\x01") * (context_kb * 1024)
        with self._lock:
            old = self._data.pop(conversation_id, None)
            self._bytes -= len(old) if old is not None else 0
            if self._entries > 0 and buf:
                self._data[conversation_id] = buf
                self._bytes += len(buf)
            while len(self._data) > self._entries:
                self._bytes -= len(self._data.popitem(last=False)[1])
            self._m.cache_bytes.set(self._bytes)
        return buf
