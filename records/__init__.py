"""The records domain: models, services, access rules, files and the audit trail."""
