"""Client register at scale: load N clients and scan a 3 kB text against them.

    .venv/bin/python benchmarks/register_scale.py [--clients 100000] [--repeat 20]

Writes a register CSV of N clients (a name, an alias and an account each), loads it as the
scanner does (`auditor.scan.registers.load_client_register`), and prints the load time, the
process's peak RSS, and the time to find every name and account in a 3 kB text that mentions
the last client fifty times (the automaton built once, before timing).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from auditor.scan.registers import load_client_register


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "register.csv"
        lines = ["client_id,name,aliases,accounts"]
        lines += [
            f"X{n:06d},Client {n:06d} Holdings,Client {n:06d},ZX{n:09d}"
            for n in range(args.clients)
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        register = load_client_register(path)
        loaded = time.perf_counter() - t0
    last = args.clients - 1
    text = f"Please review Client {last:06d} Holdings and account ZX{last:09d}. " * 50
    register.names.find("warm up")  # builds the automaton once
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        names = register.names.find(text)
        accounts = register.accounts.find(text)
    per_text = (time.perf_counter() - t0) / args.repeat
    assert len(names) == 50 and len(accounts) == 50, (len(names), len(accounts))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{register.clients:,} clients ({register.name_count:,} names): loaded in {loaded:.2f} s, "
        f"peak RSS {peak:.0f} MB; a {len(text):,}-character text scanned in "
        f"{per_text * 1000:.2f} ms ({len(names)} names, {len(accounts)} accounts found)"
    )


if __name__ == "__main__":
    main()
