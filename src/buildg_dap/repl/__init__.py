"""The terminal REPL with buildg's command set."""
