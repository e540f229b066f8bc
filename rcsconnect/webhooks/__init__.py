"""Outgoing webhooks: integrators register a URL and the events they want; each event is signed with
HMAC-SHA256 and POSTed through the outbound address guard, retried with backoff, every attempt logged.

`events.emit` is the one call the places where things happen make (the callback applier, the
engine's result writer, campaign completion); `delivery` sends; docs/webhooks.md is the contract.
"""
