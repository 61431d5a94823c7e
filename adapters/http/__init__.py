"""The HTTP adapter: the JSON API, server-sent events and the web page (extra `ffwd[web]`)."""

from ffwd.adapters.http.app import create_app

__all__ = ["create_app"]
