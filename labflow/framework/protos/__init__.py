"""Generated protobuf modules (do not edit): regenerate with `python -m labflow.tools.gen_protos`."""
