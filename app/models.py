"""Every ORM model, imported in one place so Alembic and the tests see the whole schema."""

from app.accountability.models import AnswerClock
from app.audit.models import AuditEntry
from app.campaigns.models import Campaign, CampaignCase, CampaignEvent, CampaignTarget
from app.cases.models import Case, CasePerson, Charge
from app.db import Base
from app.delivery.email.evidence import SendEvidence
from app.delivery.models import Delivery, DeliveryEvent, PrintBatch
from app.digests.models import Cosigner, Digest
from app.letters.models import Letter
from app.recipients.models import Recipient, RecipientChannel, RecipientTag
from app.responses.models import InboundMessage, Response
from app.signatures.models import Signature, SignatureEvent, SignatureToken, Supporter
from app.staff.models import ApiToken, StaffUser
from app.staff.sessions import StaffSession

__all__ = [
    "AnswerClock",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Campaign",
    "CampaignCase",
    "CampaignEvent",
    "CampaignTarget",
    "Case",
    "CasePerson",
    "Charge",
    "Cosigner",
    "Delivery",
    "DeliveryEvent",
    "Digest",
    "InboundMessage",
    "Letter",
    "PrintBatch",
    "Recipient",
    "RecipientChannel",
    "RecipientTag",
    "Response",
    "SendEvidence",
    "Signature",
    "SignatureEvent",
    "SignatureToken",
    "StaffSession",
    "StaffUser",
    "Supporter",
]
