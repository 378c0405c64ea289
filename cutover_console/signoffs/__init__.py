"""Sign-offs signed with the signer's own SSH key: the statement, its nonce, the SSHSIG format
and the rules, in one place for the journal service, `cutover verify` and the export."""

from .statement import NAMESPACE, Statement, StatementInvalid, signature_required
from .verdict import Presented, SignatureRefusal, check_journal, check_presented

__all__ = [
    "NAMESPACE",
    "Presented",
    "SignatureRefusal",
    "Statement",
    "StatementInvalid",
    "check_journal",
    "check_presented",
    "signature_required",
]
