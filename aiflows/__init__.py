"""aiflows' command line: `python -m aiflows --help`."""
