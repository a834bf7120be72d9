"""The console adapter: paperboy on stdin/stdout, the embedded default."""

from adapters.console.adapter import ConsoleAdapter

__all__ = ["ConsoleAdapter"]
