"""``kvt-train``, the headless CLI: its parsers, printers, signal handling and subcommands."""
