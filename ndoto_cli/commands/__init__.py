"""The Typer front end, one module per noun or verb: parse, call core, render. ``output`` is the one
output layer (stdout data or ``--json``, one error line on stderr, exit codes, the question before
a destructive action). Heavy modules (core, rich, the server, the console) are imported inside
the commands that use them, so ``ndoto --help`` stays fast."""
