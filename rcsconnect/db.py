"""Database helpers shared by the apps."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model


@functools.cache
def loaded_fields(model: type[Model], names: tuple[str, ...]) -> tuple[tuple[Field, ...], frozenset[str]]:
    """The model's concrete fields among `names` (a name or an attname each), in the model's field
    order, and their attnames: the columns to select for rows built with `Model.from_db`."""
    wanted = set(names)
    fields = tuple(f for f in model._meta.concrete_fields if {f.name, f.attname} & wanted)
    return fields, frozenset(f.attname for f in fields)


def bulk_update(objs: Sequence[Model], fields: Iterable[str]) -> None:
    """`Model.objects.bulk_update(objs, fields)`; on PostgreSQL one `UPDATE .. FROM unnest(arrays)`.

    Django's bulk_update builds and resolves a `CASE WHEN pk = .. THEN ..` expression per object
    and field, about 0.6 ms of CPU per object for a message's status fields; this statement takes
    the same values (converted by the model's fields, as `save()` would) for a fraction of that.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        type(objs[0])._default_manager.bulk_update(objs, list(fields))
        return
    with connection.cursor() as cursor:
        for sql, params in bulk_update_statements(objs, fields):
            cursor.execute(sql, params)


def bulk_update_statements(
    objs: Sequence[Model], fields: Iterable[str], *, where: str = ""
) -> list[tuple[str, list]]:
    """The PostgreSQL statement of `bulk_update`, for a caller that sends it with others at once;
    `where`: a further condition (SQL without parameters) every row's update depends on.

    One array parameter per column (`unnest(%s::type[], ..)`), not one parameter per value: the
    statement's text is the same for any number of objects, so psycopg converts it once and caches
    it, instead of splitting a text with thousands of placeholders on every call.
    """
    if not objs:
        return []
    db = connections[DEFAULT_DB_ALIAS]  # the thread's wrapper, resolved once (not per value)
    sql, columns = _update_statement(type(objs[0]), tuple(fields))
    params = []
    for f in columns:
        prep, attname = f.get_db_prep_save, f.attname
        values = [getattr(obj, attname) for obj in objs]
        params.append([None if value is None else prep(value, db) for value in values])
    return [(f"{sql} AND {where}" if where else sql, params)]


@functools.cache
def _update_statement(model: type[Model], fields: tuple[str, ...]) -> tuple[str, list[Field]]:
    """The text of `bulk_update_statements` for `model` and `fields`, and its columns (pk first)."""
    meta = model._meta
    changed = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    columns = [meta.pk, *changed]
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in columns)
    names = ", ".join(quote(f.column) for f in columns)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in changed)
    pk = quote(meta.pk.column)
    # Only names from the model and placeholders go into the text; every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM unnest({arrays}) AS v({names}) WHERE t.{pk} = v.{pk}"
    )
    return sql, columns


# SQLSTATEs of a transaction the database aborted to break a deadlock or a serialization conflict:
# running it again is the documented remedy (PostgreSQL manual, 13.6 and 13.2.3).
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
CONFLICT_ATTEMPTS = 8


def is_conflict(exc: BaseException) -> bool:
    """Whether `exc` is a deadlock or a serialization failure (psycopg's error, or Django's wrapper)."""
    while exc is not None:
        if getattr(exc, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
        exc = exc.__cause__
    return False


def retry_on_conflict(fn, /, *args, attempts: int = CONFLICT_ATTEMPTS, what: str = "", **kwargs):
    """Call `fn` (one whole transaction) again when the database aborted it as a deadlock victim or for
    a serialization failure: up to `attempts` times in all, a short growing pause between, a warning
    each time. Any other error, the last conflict, or a call inside an open transaction (which cannot
    be retried in place) is raised. `fn` must start from the database's state, not from what the
    failed attempt changed in memory."""
    import logging
    import random
    import time

    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if attempt == attempts or not is_conflict(exc) or connection.in_atomic_block:
                raise
            logging.getLogger(__name__).warning(
                "%s: %s, retrying (attempt %s of %s)", what or fn.__name__, exc, attempt + 1, attempts
            )
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not a secret
