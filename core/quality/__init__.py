"""Data quality: find bad frames, near-duplicates, non-street scenes, outliers and label errors.

`findings.scan` runs the checks and stores `Finding`s; the user reviews them and `apply_findings`
rejects the chosen images (reversibly, with the reason). Modules: `frames` (placeholder / dark /
bright / blurred), `duplicates` (perceptual hashes), `scene` (Places365, user weights), `embedding`
(per-city outliers, offline backbone), `label_errors` (a trained model). The modules that need torch
are imported only when their check runs, so importing this package stays cheap.
"""

from .findings import (
    CHECKS,
    KINDS,
    OFFLINE_CHECKS,
    Finding,
    ScanOptions,
    apply_findings,
    dismiss_findings,
    group_by_kind,
    open_findings,
    parse_checks,
    reopen_unrejected,
    scan,
    undo_last_apply,
)

__all__ = ["CHECKS", "KINDS", "OFFLINE_CHECKS", "Finding", "ScanOptions", "apply_findings", "dismiss_findings",
           "group_by_kind", "open_findings", "parse_checks", "reopen_unrejected", "scan", "undo_last_apply"]
