"""Tools: protobuf generation, graph transforms, the CLI."""
