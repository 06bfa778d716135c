"""The HTTP service: ``create_app`` builds the FastAPI app (``uvicorn --factory api:create_app``)."""

from api.app import create_app

__all__ = ["create_app"]
