"""Cutover Console: run a weekend migration cutover from the terminal, on an audit journal."""

import warnings

__version__ = "0.1.0"

# cryptography 47+ deprecates DSA, and asyncssh (2.24) still names its DSA types at import time:
# ten lines of CryptographyDeprecationWarning on every command that loads asyncssh, in front of
# `verify`'s verdict for the client. Exactly that warning, from asyncssh's modules only, is
# silenced here, before any module of ours can import asyncssh; every other warning still shows.
warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"asyncssh(\.|$)")
