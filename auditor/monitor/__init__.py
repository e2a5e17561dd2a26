"""Population monitoring: scan every stored interaction of a period, not only the sample, with
the audit's scanner (same revision, registers and key), and evaluate the rules marked
`monitor: true` with the same policy engine.

Two engines give the same answers: `local` (the scan stage's worker processes, streaming from
the database, resumable) and `spark` (Apache Spark, `ai-usage-auditor[spark]`: Parquet in,
`mapPartitions` with one scanner per executor process, Parquet out, loaded back). Their
results become population findings in the review queue with `source = monitoring`, never
counted in the sample's deviation rate.
"""
