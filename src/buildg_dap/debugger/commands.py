"""The debugger's command set (buildg's): names, aliases, usage and argument parsing,
shared by the terminal REPL and the DAP debug console."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or f"{self.prog}: invalid arguments")


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    usage: str
    summary: str

    def parser(self) -> _Parser:
        parser = _Parser(prog=self.name, add_help=False)
        configure = _ARGS.get(self.name)
        if configure is not None:
            configure(parser)
        return parser

    def parse(self, args: list[str]) -> argparse.Namespace:
        return self.parser().parse_args(args)


def _break(p: argparse.ArgumentParser) -> None:
    p.add_argument("breakpoint", help="a line number, or on-fail")


def _clear(p: argparse.ArgumentParser) -> None:
    p.add_argument("key")


def _continue(p: argparse.ArgumentParser) -> None:
    p.add_argument("key", nargs="?")


def _exec(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", action="store_true")
    p.add_argument("--mountroot", default="/debugroot")
    p.add_argument("--init-state", action="store_true")
    p.add_argument("-t", "--tty", action="store_true", default=None)
    p.add_argument("-i", dest="interactive", action="store_true", default=None)
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-w", "--workdir", default="")
    p.add_argument("args", nargs=argparse.REMAINDER)


def _list(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true")
    p.add_argument("-A", type=int, default=None)
    p.add_argument("-B", type=int, default=None)
    p.add_argument("--range", type=int, default=3)


def _log(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", type=int, default=10)
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("--more", action="store_true")


def _path(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default="/")


def _help(p: argparse.ArgumentParser) -> None:
    p.add_argument("command", nargs="?")


_ARGS = {
    "break": _break,
    "clear": _clear,
    "continue": _continue,
    "exec": _exec,
    "list": _list,
    "log": _log,
    "cat": _path,
    "dir": _path,
    "stat": _path,
    "help": _help,
}

COMMANDS = [
    Command("break", ("b",), "break BREAKPOINT", "Set a breakpoint (a line number, or on-fail)"),
    Command("breakpoints", ("bp",), "breakpoints", "Show breakpoints key-value pairs"),
    Command("clear", (), "clear BREAKPOINT_KEY", "Clear a breakpoint"),
    Command("clearall", (), "clearall", "Clear all breakpoints"),
    Command("next", ("n",), "next", "Proceed to the next step"),
    Command(
        "continue", ("c",), "continue [BREAKPOINT_KEY]",
        "Proceed to the next or the specified breakpoint",
    ),
    Command(
        "exec", ("e",),
        "exec [--image] [--mountroot DIR] [--init-state] [-t] [-i] [-e K=V] [-w DIR] [ARGS...]",
        "Execute a command in the step (default /bin/sh)",
    ),
    Command(
        "list", ("ls", "l"), "list [--all] [-A N] [-B N] [--range N]", "List source lines"
    ),
    Command("log", (), "log [-n N] [--all] [--more]", "Show build log"),
    Command("info", (), "info", "Show the step's state (command, env, mounts, cache)"),
    Command("cat", (), "cat PATH", "Print a file of the step's filesystem"),
    Command("dir", (), "dir [PATH]", "List a directory of the step's filesystem"),
    Command("stat", (), "stat PATH", "Show a file's metadata in the step's filesystem"),
    Command("reload", (), "reload", "Reload context and restart build"),
    Command("exit", ("quit", "q"), "exit", "Exit the debug session"),
    Command("help", ("h",), "help [COMMAND]", "Show commands, or help for one command"),
]

_BY_NAME = {name: c for c in COMMANDS for name in (c.name, *c.aliases)}


def lookup(name: str) -> Command:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UsageError(f'unknown command "{name}": type "help" for the list') from None


def help_text(name: str | None) -> list[str]:
    if name:
        command = lookup(name)
        aliases = f" (aliases: {', '.join(command.aliases)})" if command.aliases else ""
        return [f"{command.summary}{aliases}", f"Usage: {command.usage}"]
    width = max(len(c.name) for c in COMMANDS)
    return ["Commands:"] + [
        f"  {c.name.ljust(width)}  {c.summary}"
        + (f" (alias: {', '.join(c.aliases)})" if c.aliases else "")
        for c in COMMANDS
    ]
