"""The `peerwatt` command line: one entry point that hands each subcommand to its part."""
