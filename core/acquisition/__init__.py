"""Image acquisition: Street View Static API and Mapillary downloads into a project.

The public API is `estimate_cost` and `run_download` with a `DownloadConfig` (see `jobs`); the
providers' clients (`streetview`, `mapillary`), the point samplers (`sampling`) and the shared HTTP
layer (`http`) are usable on their own.
"""

from .jobs import (
    PROVIDERS,
    CityPlan,
    CityResult,
    CostEstimate,
    DownloadCancelled,
    DownloadConfig,
    DownloadSummary,
    estimate_cost,
    plan,
    run_download,
)

__all__ = ["PROVIDERS", "CityPlan", "CityResult", "CostEstimate", "DownloadCancelled", "DownloadConfig",
           "DownloadSummary", "estimate_cost", "plan", "run_download"]
