"""The audit log: who changed what as an admin, and every sign-in, one row each."""
from fenfa_lib.events import unless_busy
from fenfa_lib.models import AuditEntry

MAX_FIELD_LENGTH = 255


def record_audit(actor, action, target_id, ip):
    """Append one row in a transaction of its own. It is written after the change it describes was answered:
    a database too busy to take it loses the row (logged), never the change."""
    with unless_busy(f"audit entry {action}"):
        AuditEntry.create(actor=actor[:MAX_FIELD_LENGTH], action=action, target_id=target_id[:MAX_FIELD_LENGTH],
                          ip=ip)


def audit_entries(action="", target_id=""):
    """The rows with this action and target (either may be empty: any), newest first."""
    query = AuditEntry.select()
    if action:
        query = query.where(AuditEntry.action == action)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    return query.order_by(AuditEntry.ts.desc(), AuditEntry.id.desc())
