"""Writers that turn the demo's interactions into the log formats firms really have.

The demo generates each interaction once, as an OpenAI chat-completions record the way a
gateway logs it (see `auditor.demo.logs`). A writer module here re-expresses a list of those
records in one other format, so `auditor demo` can feed every reader with the same month.

Each module defines:
- `FORMAT`: the reader name (`auditor formats`) that reads what it writes;
- `SUFFIX`: the file name ending it writes (e.g. ".jsonl", ".json", ".csv");
- `write(records: Sequence[dict], path: Path) -> int`: write the records to `path` and return
  how many interactions a reader should get back from the file.

A writer never invents content: prompts, outputs, users, times, models, tokens and workflow
tags come from the record, so that ingesting its file gives the same interactions back.
"""
