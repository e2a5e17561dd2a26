"""Child process for tests/policy/test_rego_cpp.py: evaluates policy inputs with rego-cpp.

Protocol, one JSON document per line: the first line read is the pack directory; it answers
`{"loaded": true}` or `{"load_error": ...}`. Then each line read is a policy input, answered
by its violations or `{"error": ...}`. rego-cpp prints its diagnostics on stdout and can crash
the process on what it does not support, so it runs here, alone, with stdout kept for the
answers.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ENTRYPOINT = "auditor/main/violations"


def main() -> None:
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # rego-cpp's own printing goes to stderr

    def send(doc: Any) -> None:
        answers.write(json.dumps(doc) + "\n")
        answers.flush()

    from regopy import Interpreter, RegoError
    from regopy.rego_shared import rego_get_error

    pack = Path(json.loads(sys.stdin.readline()))
    rego = Interpreter()
    try:
        for path in sorted(pack.rglob("*.rego")):
            if not path.name.endswith("_test.rego"):
                rego.add_module(path.relative_to(pack).as_posix(), path.read_text())
        data = {p.stem: json.loads(p.read_text()) for p in sorted((pack / "data").glob("*.json"))}
        rego.add_data({"auditor_data": data})
        bundle = rego.build(None, [ENTRYPOINT])
    except RegoError as exc:
        send({"load_error": str(exc)[:2000]})
        return
    send({"loaded": True})
    for line in sys.stdin:
        rego.set_input(json.loads(line))
        try:
            output = rego.query_bundle_entrypoint(bundle, ENTRYPOINT)
        except (RegoError, ValueError) as exc:  # ValueError: output that is not JSON
            send({"error": f"{type(exc).__name__}: {str(exc)[:300]}"})
            continue
        if not output.ok():
            send({"error": str(rego_get_error(rego._impl))[:300]})
        else:
            send(output[0][0])


if __name__ == "__main__":
    main()
