"""Entry point for ``ndoto`` and ``python -m ndoto_cli``."""

from __future__ import annotations


def main() -> None:
    from ndoto_cli.commands.app import run

    run()


if __name__ == "__main__":
    main()
