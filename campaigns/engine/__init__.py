"""The sending engine: claim queued messages with a lease, throttle per provider, send, write results.

- `claim`: short transactions hand a chunk of due messages to one worker with a lease.
- `limiter`: per-provider concurrency slots and send rate shared by every process (Redis or database).
- `dispatch`: the per-worker loop (threads bounded by the provider's concurrency).
- `results`: applies send results in batches through `campaigns.state.advance`.
- `retry`: backoff with full jitter.
See docs/engine.md.
"""
