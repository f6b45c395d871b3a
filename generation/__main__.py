from generation.cli import entry_point

entry_point()
