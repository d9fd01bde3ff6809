"""Imports every ORM model so that Base.metadata knows the whole schema (for Alembic)."""

from app.alerting_policy.models import FreezeException, Silence
from app.auth.models import ApiKey
from app.collectors.models import CollectorRun
from app.evaluation.models import Breach, SloStatus
from app.measurements.models import SliSample, SloDayCount, SloHourCount, SloMinuteCount
from app.ml.models import DriftScore, LabelProblem, ModelVersion, Prediction, ReferenceProfile
from app.notifications.models import Notification
from app.postmortems.models import Postmortem, postmortem_breach
from app.slos.models import Slo, SloVersion
from app.systems.models import PhaseChange, System

__all__ = [
    "ApiKey",
    "Breach",
    "CollectorRun",
    "DriftScore",
    "FreezeException",
    "LabelProblem",
    "ModelVersion",
    "Notification",
    "PhaseChange",
    "Postmortem",
    "Prediction",
    "ReferenceProfile",
    "Silence",
    "SliSample",
    "Slo",
    "SloDayCount",
    "SloHourCount",
    "SloMinuteCount",
    "SloStatus",
    "SloVersion",
    "System",
    "postmortem_breach",
]
