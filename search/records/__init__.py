"""Typed trial records and on-device confirmations, and their place in an Optuna storage.

The only package that knows the storage's JSON: everything else reads :class:`TrialRecord`,
:class:`ConfirmationEntry` and :class:`Role` values. Torch-free.
"""

from dslnas.search.records.attrs import (
    ATTR_FAIL_REASON, ATTR_PARENT, ATTR_RECORD, ATTR_ROLE, STUDY_ATTR_CONFIG, STUDY_ATTR_CONFIRMATIONS, STUDY_ATTR_VERSION,
)
from dslnas.search.records.confirmations import (
    Comparison, ConfirmationEntry, PathConfirmation, append_confirmations, confirmations_key, error_pct,
    stored_confirmations, summarise_confirmations,
)
from dslnas.search.records.stored import STORED_FIELDS, record_attrs, record_from_json, record_from_trial, record_to_json
from dslnas.search.records.trial_record import (
    ClipScore, EvaluatedClass, PathQuality, Role, SweepPoint, SwitchQuality, TrialRecord, TrialTiming, VisqolRules, fail_attrs,
    fail_reason, parent_of, role_attrs, role_of,
)

__all__ = [
    "ATTR_FAIL_REASON", "ATTR_PARENT", "ATTR_RECORD", "ATTR_ROLE", "STUDY_ATTR_CONFIG", "STUDY_ATTR_CONFIRMATIONS",
    "STUDY_ATTR_VERSION", "STORED_FIELDS", "ClipScore", "Comparison", "EvaluatedClass", "error_pct", "ConfirmationEntry", "PathConfirmation", "PathQuality", "Role",
    "SweepPoint", "SwitchQuality", "TrialRecord", "TrialTiming", "VisqolRules", "append_confirmations", "confirmations_key", "fail_attrs", "fail_reason", "parent_of",
    "record_attrs", "record_from_json", "record_from_trial", "record_to_json", "role_attrs", "role_of", "stored_confirmations",
    "summarise_confirmations",
]
