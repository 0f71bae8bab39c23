"""Ndoto: a self-hostable agent-bot platform for customer conversations, run from the terminal."""

__version__ = "0.1.0"
