"""Core services: every state change, keyword-only, over an injected session.

Call them inside ``Database.write(lambda s: service(s, ...))`` so each change, its event and its
deliveries commit together. They return models (or small results) and raise ``core.errors``.
"""
