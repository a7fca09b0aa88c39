"""The dashboard's date range: from and to (UTC days, both included), the last 30 days unless told."""

from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.utils import timezone


def default_range(today: date | None = None) -> tuple[date, date]:
    """The last OPS_DEFAULT_DAYS days, today included."""
    today = today or timezone.now().date()
    return today - timedelta(days=settings.OPS_DEFAULT_DAYS - 1), today


class RangeForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("The first day comes after the last.")
            if (end - start).days + 1 > settings.OPS_MAX_DAYS:
                raise forms.ValidationError(f"A range of at most {settings.OPS_MAX_DAYS} days, please.")
        return cleaned
