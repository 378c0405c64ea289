"""The witness and archive: signed checkpoints and the journal's events, published to a place the
lead cannot change afterwards (S3 with Object Lock in compliance mode), verified against a bundle,
and restored from on another machine.

No UI here. `location` names where (`s3://BUCKET/PREFIX` or a downloaded copy in a directory),
`objects` reads and writes it (boto3, standard AWS configuration), `segments` and `checkpoints` are
the formats, `publisher` runs beside the engines, `witness` checks a bundle, `restore` rebuilds a
journal.
"""
