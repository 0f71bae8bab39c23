"""The Textual console: the inbox view where humans work beside bots. Talks to core only."""
