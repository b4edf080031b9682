"""carbonx: the node, config loading and the `carbonx` command line."""
