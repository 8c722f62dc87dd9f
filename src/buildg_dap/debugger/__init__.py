"""The debugger engine: program model, breakpoints, stepping, exec and inspection."""
