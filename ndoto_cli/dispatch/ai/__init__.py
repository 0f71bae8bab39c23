"""The built-in AI agent: retrieval from the bot's knowledge base, an answer through litellm, and
handoff to humans. Runs in-process as a transport, fed by the same deliveries as webhook bots."""
