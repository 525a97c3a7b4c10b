"""Every ORM model, imported in one place so Alembic and the tests see the whole schema."""

from app.audit.models import AuditEntry
from app.cases.models import Case, CasePerson, Charge
from app.db import Base
from app.recipients.models import Recipient, RecipientChannel, RecipientTag
from app.staff.models import ApiToken, StaffUser

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "Case",
    "CasePerson",
    "Charge",
    "Recipient",
    "RecipientChannel",
    "RecipientTag",
    "StaffUser",
]
