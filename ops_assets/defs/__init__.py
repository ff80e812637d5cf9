"""The agent folders, found by `dg.load_from_defs_folder`: one folder per agent (see
README.md), plus the jobs that select them."""
