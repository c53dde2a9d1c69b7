"""Prints the figures of a .ci/schemathesis.sh run from its passes' NDJSON event logs.

    python3 schemathesis_summary.py WORK_DIR OPENAPI_JSON

Each pass writes WORK_DIR/report-<pass>/*.ndjson: one ScenarioFinished event per scenario, whose
recorder holds its cases and the outcome of every check on each case.
"""

import glob
import json
import sys

work, document = sys.argv[1], sys.argv[2]
with open(document) as f:
    doc = json.load(f)
documented = {f"{method.upper()} {path}" for path, item in doc["paths"].items() for method in item}

covered, failing_cases, failed = set(), set(), set()
cases_per_pass = {}
for log in sorted(glob.glob(f"{work}/report-*/*.ndjson")):
    name = log.split("/report-")[-1].split("/")[0]
    with open(log) as f:
        for line in f:
            finished = json.loads(line).get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            recorded = dict(recorder.get("cases") or {})
            cases_per_pass[name] = cases_per_pass.get(name, 0) + len(recorded)
            labels = {}
            for case_id, node in recorded.items():
                value = node["value"]
                labels[case_id] = f"{value['method']} {value['path']}"
                if labels[case_id] in documented:
                    covered.add(labels[case_id])
            for case_id, checks in dict(recorder.get("checks") or {}).items():
                for check in checks:
                    if check["status"] == "failure":
                        failing_cases.add((log, case_id))
                        failed.add(f"{labels.get(case_id, recorder['label'])}: {check['name']}")

print(f"operations covered: {len(covered)} of {len(documented)} in the document")
for missing in sorted(documented - covered):
    print(f"  not covered: {missing}")
per_pass = ", ".join(f"{name} {count}" for name, count in sorted(cases_per_pass.items()))
print(f"test cases run:     {sum(cases_per_pass.values())} ({per_pass})")
print(f"failing cases:      {len(failing_cases)}")
for failure in sorted(failed):
    print(f"  {failure}")
