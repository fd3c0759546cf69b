"""Testing helpers: numerical gradient checks and the registry-wide op sweep."""
