"""``/``: the page; ``/stream``: the Server-Sent Events relay."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("stream", views.stream),
]
