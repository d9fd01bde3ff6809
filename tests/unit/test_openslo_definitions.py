"""A definitions folder may hold OpenSLO v1 files next to native ones."""

from __future__ import annotations

from pathlib import Path

from app.migrations import PROJECT_ROOT
from app.slos.loader import load_path, load_text
from app.slos.openslo import export_openslo


def test_an_openslo_file_in_the_folder_loads_like_its_native_source(tmp_path: Path) -> None:
    native = load_path(PROJECT_ROOT / "slo_definitions" / "recommender" / "production.yaml")
    assert native.ok, native.errors
    (tmp_path / "recommender").mkdir()
    (tmp_path / "recommender" / "production.yaml").write_text(export_openslo(native.files))

    loaded = load_path(tmp_path)

    assert loaded.ok, loaded.errors
    assert [spec.model_dump() for spec in loaded.files[0].slos] == [
        spec.model_dump() for spec in native.files[0].slos
    ]


def test_an_openslo_file_is_held_to_the_phase_rules() -> None:
    text = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: shop
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  indicator:
    metadata:
      name: availability
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(http_requests_total{code!~"5.."}[{{.window}}]))
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(http_requests_total[{{.window}}]))
  objectives:
    - target: 0.999
"""
    accepted, errors = load_text("shop/technical_validation.yaml", text)
    assert errors == []
    assert accepted is not None
    assert accepted.slos[0].sli.source.value == "prometheus"

    refused, errors = load_text("shop/production.yaml", text)
    assert refused is None
    assert any("ML SLI" in error.message for error in errors)
    assert all(error.file == "shop/production.yaml" for error in errors)
