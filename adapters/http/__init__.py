"""The HTTP adapter: the JSON API, server-sent events and the web page (extra `ffwd[web]`)."""

from adapters.http.app import create_app

__all__ = ["create_app"]
