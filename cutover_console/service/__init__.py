"""The journal service: the one writer of a journal and the engines that feed it.

Above the parts it drives (the runbook's rules, the DNS and flow engines) and below the views
that use it (the console, the CLI): `engines` starts the DNS, flow and log engines; `lead` is the
lead's in-process session (writer plus engines).
"""
