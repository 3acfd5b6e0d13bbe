"""`GET /v1/bank/stats`: what the memory bank holds."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.api.deps import AssistantDep
from assistant.api.schemas import BankStatsOut

router = APIRouter(prefix="/v1/bank", tags=["bank"])


@router.get("/stats", response_model=BankStatsOut)
def bank_stats(assistant: AssistantDep) -> BankStatsOut:
    """Entries by kind and section, files, generation, size on disk and in memory."""
    return BankStatsOut.from_domain(assistant.bank_stats())
