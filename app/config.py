"""Settings from the environment (prefix MLSLO_), read once through get_settings()."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("mlslo"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLSLO_", env_file=None, extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the Postgres database. Unset: an embedded Postgres is started.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Per-user directory for the embedded Postgres cluster and other local state.",
    )
    slo_definitions_dir: Path = Path("slo_definitions")
    slack_webhook_url: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8000"
    grafana_url: str = "http://127.0.0.1:3000"
    host: str = "127.0.0.1"
    port: int = 8000
    evaluation_interval_seconds: float = Field(default=30.0, gt=0)
    delivery_interval_seconds: float = Field(default=5.0, gt=0)
    prometheus_url: str | None = Field(
        default=None, description="Base URL of the Prometheus that `source: prometheus` SLOs query."
    )
    collection_tick_seconds: float = Field(
        default=15.0, gt=0, description="How often due collection slots (HTTP probes, SQL) are looked for."
    )
    delivery_max_attempts: int = Field(
        default=1000, ge=1, description="A notification still undelivered after this many tries is dead."
    )
    delivery_dead_after_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="A notification still undelivered this long after it was written is dead (a dead letter).",
    )
    alert_repeat_interval_minutes: float = Field(
        default=240.0,
        gt=0,
        description="An open, unacknowledged alert is sent again this often (Alertmanager's repeat_interval).",
    )
    webhook_url: SecretStr | None = Field(
        default=None, description="A generic webhook that receives every alert as signed JSON."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key of the X-Mlslo-Signature header of webhook deliveries."
    )
    pagerduty_routing_key: SecretStr | None = Field(
        default=None, description="PagerDuty Events v2 integration key: pages trigger and resolve incidents."
    )
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    retrain_webhook_url: SecretStr | None = Field(
        default=None,
        description="A training pipeline's webhook, called once per episode of a burning ML SLO.",
    )
    retrain_webhook_secret: SecretStr | None = None
    min_events_per_window: int = Field(
        default=1, ge=1, description="Alert rules need at least this many events in the long window."
    )
    measurement_retention_days: int = Field(
        default=400,
        ge=1,
        description="Measurement partitions older than this are dropped (whole months); keep it above "
        "the longest SLO window.",
    )
    log_level: str = "INFO"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
