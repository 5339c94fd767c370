//! The tune handler: the second gate of the flow. A pipeline listening to a dataset starts a run
//! when a version is accepted (`DatasetVersionAccepted`), when someone asks (`RunRequested`,
//! from the API or a schedule); each `TrainingJobStateChange` records a trial's result.
//!
//! Every event is one bounded step, never a wait: read the run, decide (record the result, start
//! up to max-parallel trials within the budgets, or register the best trial as a candidate),
//! write the run back conditionally, then act (start and stop jobs, announce the candidate). A
//! step that loses a race is decided again on the new state; a duplicate or late event finds
//! nothing to change. A crash between the write and the act leaves trials `pending`, and the next
//! event starts them (a job name starts one job).

mod error;
mod handler;
mod split;
mod step;

pub use error::TuneError;
pub use handler::{Tune, TuneConfig};
pub use step::metric_names;
