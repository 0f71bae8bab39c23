"""The REST API (FastAPI): account API, platform API, public API; started by ``ndoto serve``."""
