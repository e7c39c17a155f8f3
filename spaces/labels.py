"""The class labels dslnas's own data and reports name (torch-free, so reports and records read them too).

Loaders may carry any other label a manifest or a folder names; these three are the ones code branches on.
"""

SPEECH = "speech"
SILENCE = "silence"
UNKNOWN = "unknown"
REPORTED_CLASSES: tuple[str, ...] = (SILENCE, SPEECH)
"""The classes the report and the trial fields show light usage for, in this order."""
