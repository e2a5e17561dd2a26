"""Scan stage: find personal and client data in prompts and outputs with presidio.

`engine` builds the scanner (the only place that imports presidio and spaCy), `recognizers`
holds our own recognizers, `conf/recognizers.yaml` registers them with presidio's built-ins,
and `stage` scans a sample into ScanRecords and Detections.
"""
