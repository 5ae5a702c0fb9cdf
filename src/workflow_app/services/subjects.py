"""The subject adapter of a business record (which kinds of record run as processes)."""

from __future__ import annotations

from ..store.models import Campaign, Case, Duty, Hazard, SupervisionListing
from .campaign_subject import CampaignSubject
from .case_subject import CaseSubject
from .duty_subject import DutySubject
from .hazard_subject import HazardSubject
from .instances import Subject
from .listing_subject import ListingSubject


def subject_of(record: Hazard | Campaign | Duty | Case | SupervisionListing) -> Subject:
    if isinstance(record, Hazard):
        return HazardSubject(record)
    if isinstance(record, SupervisionListing):
        return ListingSubject(record)
    if isinstance(record, Case):
        return CaseSubject(record)
    return CampaignSubject(record) if isinstance(record, Campaign) else DutySubject(record)
