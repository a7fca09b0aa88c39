"""The one base of every domain error (a user's request refused), and its two mappings for pages;
the API's mapping is `avatarsite.core.api.exception_handler`."""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest


class ApplicationError(Exception):
    """A request we refuse, with everything an answer needs: `code` (the API body's machine string),
    `http_status`, `message` (for the user) and, optionally, the `field` of the request it is about.

    Subclasses set the class-level defaults; an instance may override the message and the field.
    Provider and infrastructure failures are not ApplicationErrors: they are ours to handle, not the user's.
    """

    code: str = "invalid"
    http_status: int = 400
    message: str = "This request cannot be done."
    field: str = ""

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        if message is not None:
            self.message = message
        if field is not None:
            self.field = field
        super().__init__(self.message)

    def details(self) -> dict[str, Any]:
        """The API body's `details`: the message under its field, as DRF's own 400s name theirs."""
        return {self.field: [self.message]} if self.field else {}

    def headers(self) -> dict[str, str]:
        """Extra response headers of the API answer (e.g. Retry-After)."""
        return {}


def form_error_from(exc: ApplicationError, form: forms.BaseForm) -> None:
    """Show the error on the form: beside its field when the form has that field, else above the form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def message_from(request: HttpRequest, exc: ApplicationError) -> None:
    """Show the error on the next page the user sees (for views that answer with a redirect)."""
    messages.error(request, exc.message)


__all__ = ["ApplicationError", "form_error_from", "message_from"]
