"""The session pipeline: prune -> place -> partition -> compile -> run (see DESIGN.md)."""
