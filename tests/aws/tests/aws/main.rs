//! Tollgate on its AWS adapters, against the local AWS stand-in that `scripts/test.sh` starts
//! (`localstack/start.sh`): every test provisions a stack of its own (bucket, table, bus, queues)
//! with `localstack/provision.py`, so they run in parallel and leave each other alone.
//!
//! What the stand-in cannot do is driven here with the same JSON AWS would send: the S3
//! notification is read from the SQS queue S3 wrote it to and handed to the function as Lambda's
//! SQS batch; a training job's end is a "SageMaker Training Job State Change" event (a fixture,
//! `fixtures/`), after the trainer really ran on the job's channels; a processing job's end is a
//! "SageMaker Processing Job State Change", after its instance code really ran on its shares.

mod concurrency;
mod conformance;
mod deploy;
mod functions;
mod ingest;
mod notices;
mod processing;
mod promotion;
mod tuning;
