"""Reference system under test: a small but real "production-agent" chat service.

Drills need something concrete to break and heal. This package is that something, modelled on the
incident runbooks (``/work/shared/seed/incident-runbooks.md``): every config key, metric name and
failure symptom the runbooks mention exists here for real, so a runbook's remediation either works
against it or visibly does not.

Programs (each configured only by environment variables, each runnable as a "pod"):

* ``python -m refsystem.agent``    - the chat service (HTTP, Redis history, upstream LLM via the SDK).
* ``python -m refsystem.llm_stub`` - a LOCAL STUB of the Anthropic Messages API; drills never call a
  paid API.
* ``python -m refsystem.loadgen``  - steady, bounded traffic against loopback targets only.

Shared env parsing and the one-line ``key=value`` logger live in :mod:`refsystem.config`; the HTTP/1.1
JSON plumbing both servers use lives in :mod:`refsystem.httpjson`. The agent's parts each have a module:
:mod:`~refsystem.metrics`, :mod:`~refsystem.breaker`, :mod:`~refsystem.context_cache`,
:mod:`~refsystem.cpu`, :mod:`~refsystem.limits`, :mod:`~refsystem.conversation` and
:mod:`~refsystem.upstream`. The stub keeps its provider-side state (per-key rate windows, prompt cache,
the bill) in :mod:`~refsystem.stub_state`; both sides price usage with :mod:`~refsystem.pricing`.
"""
