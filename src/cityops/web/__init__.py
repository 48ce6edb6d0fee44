"""EDGE: the FastAPI application — JSON API, signed-in pages, OpenAPI docs."""

from cityops.web.app import create_app

__all__ = ["create_app"]
