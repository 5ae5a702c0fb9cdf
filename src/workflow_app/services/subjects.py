"""The subject adapter of a business record (which kinds of record run as processes)."""

from __future__ import annotations

from ..store.models import Campaign, Hazard
from .campaign_subject import CampaignSubject
from .hazard_subject import HazardSubject
from .instances import Subject


def subject_of(record: Hazard | Campaign) -> Subject:
    return HazardSubject(record) if isinstance(record, Hazard) else CampaignSubject(record)
