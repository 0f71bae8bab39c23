"""The Typer front end: parse, call core, render. Heavy modules are imported inside commands."""
