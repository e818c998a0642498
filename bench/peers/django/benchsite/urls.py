from django.shortcuts import render
from django.urls import path


def hello(request, name):
    """The name from the URL, through a template."""
    return render(request, "hello.html", {"name": name, "items": range(5)})


urlpatterns = [
    path("hello/<str:name>/", hello, name="hello"),
]
