"""Where dslnas keeps its values in an Optuna storage (user attribute keys)."""

ATTR_RECORD = "dslnas.record"          # TrialRecord as JSON (see records.trial_record)
ATTR_FAIL_REASON = "dslnas.fail_reason"
ATTR_ROLE = "dslnas.role"              # Role value
ATTR_PARENT = "dslnas.parent"          # sweep points: the number of the trained trial they share

STUDY_ATTR_CONFIG = "dslnas.search_config"   # SearchConfig as JSON
# On-device confirmations live on the study (finished trials are read-only in Optuna 5), one list per
# trial under "<prefix>.trial-<number>" (see records.confirmations).
STUDY_ATTR_CONFIRMATIONS = "dslnas.confirmations"
STUDY_ATTR_VERSION = "dslnas.version"
