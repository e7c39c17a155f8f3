"""The stored record JSON comes from one table (``search.records.stored``): one entry per record attribute.

A record attribute without its entry, a key the table writes that the record does not hold, a value that
does not read back, a NaN written as a number, or an older record's key that no longer reads: each fails here.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from dslnas.search.records import STORED_FIELDS, TrialRecord, TrialTiming, VisqolRules, record_from_json, record_to_json
from dslnas.spaces.run_config import LightInit
from study_fixtures import make_record, tiny_candidate


@pytest.fixture(scope="module")
def record() -> TrialRecord:
    return make_record(tiny_candidate(), 0.4, 4.4, 4.3)


def test_the_table_declares_each_record_attribute_once_in_order() -> None:
    names = [f.name for f in STORED_FIELDS]
    assert names == [f.name for f in dataclasses.fields(TrialRecord)]


def test_a_record_reads_back_as_written_in_strict_json(record: TrialRecord) -> None:
    undefined = dataclasses.replace(record, switch=dataclasses.replace(record.switch, spearman=math.nan))
    data = json.loads(json.dumps(record_to_json(undefined), allow_nan=False))  # no NaN inside
    assert list(data) == [f.name for f in STORED_FIELDS]
    back = record_from_json(data)
    assert json.loads(json.dumps(record_to_json(back), allow_nan=False)) == data and math.isnan(back.switch.spearman)
    assert back.timing == TrialTiming(30.0, 3.0, 5.0, 0.2) and back.visqol_rules == VisqolRules(14, 3, 1)
    assert back.light_start is LightInit.ELASTIC and back.candidate == record.candidate and back.clips == record.clips


def test_records_before_the_typed_timing_and_rules_still_read(record: TrialRecord) -> None:
    data = record_to_json(record)
    old = {k: v for k, v in data.items() if k not in ("timing", "visqol_rules")}
    old |= {"timing_s": {"train": 1.5, "evaluate": 2.0, "visqol": 3.0, "cost": 0.1},
            "visqol_references": {"scored": 7, "levelled": 2, "digital_silence": 0}}
    back = record_from_json(old)
    assert back.timing == TrialTiming(1.5, 2.0, 3.0, 0.1) and back.visqol_rules == VisqolRules(7, 2, 0)
    assert record_from_json(old | {"visqol_references": {}}).visqol_rules is None  # written before rules were counted
    absent = {k: v for k, v in old.items() if k not in ("visqol_references", "clips", "fidelity_steps", "evaluated")}
    back = record_from_json(absent)
    assert back.visqol_rules is None and back.clips == () and back.fidelity_steps is None and back.evaluated == {}


def test_a_missing_required_key_is_named(record: TrialRecord) -> None:
    data = {k: v for k, v in record_to_json(record).items() if k != "timing"}
    with pytest.raises(KeyError, match="timing"):
        record_from_json(data)
