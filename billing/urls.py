"""Billing URLs: the pricing page at /pricing/, the rest under /billing/."""

from django.urls import path

from . import views

app_name = "billing"
urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("billing/checkout/<slug:slug>/", views.checkout, name="checkout"),
    path("billing/checkout-complete/", views.checkout_success, name="checkout_success"),
    path("billing/checkout-canceled/", views.checkout_canceled, name="checkout_canceled"),
    path("billing/portal/", views.portal, name="portal"),
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
