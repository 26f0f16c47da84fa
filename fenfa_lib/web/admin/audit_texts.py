"""The texts of the panel's audit page (web/admin/records.py), merged into the panel's texts."""

ENGLISH_AUDIT = {
    "nav_audit": "Audit",
    "audit_intro": "Every admin change the server accepted and every sign-in, newest first.",
    "audit_actor": "Who",
    "audit_action": "Action",
    "audit_target": "Target ID",
    "audit_action_hint": "e.g. product.create or sign_in.failed",
    "no_audit": "No audit entries match.",
}

CHINESE_AUDIT = {
    "nav_audit": "审计",
    "audit_intro": "服务器接受的每一次管理操作和每一次登录，最新的在前。",
    "audit_actor": "操作者",
    "audit_action": "操作",
    "audit_target": "对象 ID",
    "audit_action_hint": "例如 product.create 或 sign_in.failed",
    "no_audit": "没有符合条件的审计记录。",
}
