"""Billing pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/pricing.html")
