"""API shapes of digests and co-signers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DigestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    period_start: datetime
    period_end: datetime
    cosigners: int
    created_by: str
    created_at: datetime
    letters: int = Field(default=0, description="One per reachable office (and case).")


class CosignerAdded(BaseModel):
    added: bool = Field(description="False when this supporter was already a co-signer.")
    waiting: int = Field(description="Co-signers waiting for the campaign's next digest.")
