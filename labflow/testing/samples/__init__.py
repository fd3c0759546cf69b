"""Op samples for the registry-wide sweep, one module per op family."""
