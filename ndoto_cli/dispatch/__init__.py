"""The runtime that delivers events to bots: the worker loop and the transports (webhook, AI agent).

Imports core, never server or tui.
"""
