"""Post-cutover documentation and the client's verifiable export, from the journal alone."""
