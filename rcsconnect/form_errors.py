"""Putting a validation service's verdict on a Django form: one helper for the dashboard and admin forms.

The services (providers.validation, campaigns.validation, templates_app.validation) answer
`{name: [message, ...]}`; each form only says which of its inputs a name belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django import forms


def add_errors(
    form: forms.BaseForm,
    errors: Mapping[str, list[str]],
    *,
    field_for: Callable[[str], str | None] | None = None,
) -> None:
    """Each message beside its input. `field_for` maps a service name to the form's input (the dashboard
    forms' `validation.form_field`); a name it maps to no input of the form goes above the form. Without
    it (the admin's boxes): a dotted name `field.rest` goes on `field` as "rest: message", and a name with
    no input above the form as "name: message"."""
    for name, messages in errors.items():
        if field_for is not None:
            field = field_for(name)
            for message in messages:
                form.add_error(field if field in form.fields else None, message)
            continue
        field, _, rest = name.partition(".")
        for message in messages:
            if field in form.fields:
                form.add_error(field, f"{rest}: {message}" if rest else message)
            else:
                form.add_error(None, f"{name}: {message}" if name else message)


class Refused(ValueError):
    """A validation service's verdict for a caller without a form (a management command, the demo data):
    `errors` is the service's `{name: [message, ...]}`, the same names and messages the form shows."""

    def __init__(self, what: str, errors: Mapping[str, list[str]]):
        self.errors = dict(errors)
        lines = "; ".join(f"{name}: {m}" if name else m for name, ms in self.errors.items() for m in ms)
        super().__init__(f"{what} refused: {lines}")


def refuse(what: str, errors: Mapping[str, list[str]]) -> None:
    """Raise Refused when the service found anything."""
    if errors:
        raise Refused(what, errors)
