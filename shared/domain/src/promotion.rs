//! Promotion: the rules that move a model version from stage to stage, as pure functions.
//!
//! ```text
//! candidate ─(passed)─> staging ─(N approvals)─> production ─(replaced, rolled back)─> archived
//!     │                    │                         ^                                     │
//!     └──(reject)──────────┴─> rejected              └─────(rollback restores)─────────────┘
//! ```
//!
//! This is the `promote` step of the flow. A handler reads the model's state into a
//! [`ModelState`] (every version with its stage, revision, approvals and test verdict, and the
//! model's stage history), asks [`decide`] about a person's [`Request`] (or [`auto_stage`] when a
//! test report lands), and gets a [`Decision`]: a refusal whose text is shown to the user as is,
//! or a [`Transition`] to write in one transaction with its audit events. Nothing here reads a
//! clock or a store: the time and the actor come in as arguments.
//!
//! # The rules
//!
//! - **Staging.** A candidate whose model tests passed goes to staging: by itself when the
//!   pipeline's policy says `auto_staging` ([`auto_stage`]), otherwise when someone asks
//!   ([`Request::Promote`]). A version without a test report, or whose report failed, is refused
//!   promotion, to staging or to production, with the reason.
//! - **Approvals** are taken for a version *in staging* only, with a passing report. A candidate
//!   is not approved: with `auto_staging` a passing candidate is in staging as soon as its report
//!   lands, and without it the policy wants a person to move it to staging first; approving
//!   candidates would skip that step. The author never approves their own version. One approval
//!   per approver: approving again replaces the earlier approval (and restarts its validity), it
//!   does not count twice. An approval counts for `approval_valid_for` from when it was given.
//! - **Production** needs `approvals` valid approvals by distinct approvers other than the author
//!   (at least one, whatever the policy says). The approval that makes the count promotes the
//!   version at once, and the version that was in production is archived in the same transition.
//!   [`Request::Promote`] to production does the same when the approvals are there (after the
//!   policy lowered the number, say) and otherwise says what is missing.
//! - **Reject**: a candidate or a version in staging goes to rejected, with a comment saying why.
//! - **Rollback**: the version in production is archived and the previous production version comes
//!   back. The previous one is read from the stage history as a stack: a promotion to production
//!   pushes, a rollback pops; so rolling back twice walks two steps back, and a version that was
//!   rolled back is never restored by the next rollback. Refused when there is none.
//! - Stages `archived` and `rejected` are final, except that rollback restores an archived version.
//!
//! # Writing a transition
//!
//! Every [`VersionWrite`] is conditional on the version's `revision` being `expected_revision`,
//! and sets it to `expected_revision + 1`. The [`Transition::history`] entries are appended at
//! position [`Transition::history_len`], conditional on the history still having that length
//! (one put per position, `attribute_not_exists` or a primary key): so two transitions decided on
//! the same state cannot both land, even two first promotions to production, which archive
//! nothing. A lost condition is a `Conflict`: re-read, decide again. [`ModelState::apply`] does the
//! same in memory and is the reference for the adapters.
//!
//! Who may roll back or reject (roles) is the API's business, not this module's.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::pipeline::Promotion;
use crate::training::{Contributor, ModelStage, ModelVersion};
use crate::{AuditEvent, UserId};

/// One approver's approval of one version, for production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    pub approver: UserId,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Approval {
    /// When it stops counting; `None` past the end of time.
    pub fn expires_at(&self, valid_for: Duration) -> Option<Timestamp> {
        self.at.checked_add(valid_for).ok()
    }

    /// Whether it still counts at `now`.
    pub fn is_valid_at(&self, now: Timestamp, valid_for: Duration) -> bool {
        self.expires_at(valid_for).is_none_or(|end| now < end)
    }
}

/// What a version's model tests concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum TestVerdict {
    Passed,
    /// `reason` says which checks failed, for a person to read.
    Failed {
        reason: String,
    },
}

impl std::fmt::Display for TestVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Passed => f.write_str("passed"),
            Self::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

/// One entry of a model's stage history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageChange {
    pub version: u32,
    pub from: ModelStage,
    pub to: ModelStage,
    pub at: Timestamp,
    pub actor: UserId,
}

/// What the rules need of one model version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionState {
    pub version: u32,
    pub stage: ModelStage,
    pub author: UserId,
    /// Who else caused it ([`ModelVersion::contributors`]): like the author, none may approve.
    pub contributors: Vec<Contributor>,
    /// The stored [`ModelVersion::revision`]: every write of this version is conditional on it.
    pub revision: u64,
    /// At most one per approver; expired ones are kept (they are history) and do not count.
    pub approvals: Vec<Approval>,
    /// `None` while its model tests have not reported.
    pub report: Option<TestVerdict>,
}

impl VersionState {
    /// What `user` did to cause this version, when they did anything: its author, or one of
    /// its contributors.
    pub fn contribution(&self, user: &UserId) -> Option<&str> {
        if *user == self.author {
            return Some("authored it");
        }
        self.contributors
            .iter()
            .find(|c| c.user == *user)
            .map(|c| c.role.as_str())
    }

    /// A version as the catalog keeps it: stage, revision, approvals and test verdict.
    pub fn of(model: &ModelVersion) -> Self {
        Self {
            version: model.version,
            stage: model.stage,
            author: model.author.clone(),
            contributors: model.contributors.clone(),
            revision: model.revision,
            approvals: model.approvals.clone(),
            report: model.test.clone(),
        }
    }
}

/// One model as read before a decision.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelState {
    /// The model's (its pipeline's) name.
    pub model: String,
    pub versions: Vec<VersionState>,
    /// Every stage change of the model's versions, in the order they were appended.
    pub history: Vec<StageChange>,
}

impl ModelState {
    /// Whether the history ends where the versions' stages are. The versions and the history
    /// are read apart, so a read that falls between the two halves of a transition written
    /// meanwhile sees one before it and the other after: decide again on a fresh read.
    pub fn is_consistent(&self) -> bool {
        self.versions.iter().all(|v| {
            let last = self
                .history
                .iter()
                .rev()
                .find(|c| c.version == v.version)
                .map_or(ModelStage::Candidate, |c| c.to);
            last == v.stage
        })
    }

    pub fn version(&self, version: u32) -> Option<&VersionState> {
        self.versions.iter().find(|v| v.version == version)
    }

    pub fn in_production(&self) -> Option<&VersionState> {
        self.versions
            .iter()
            .find(|v| v.stage == ModelStage::Production)
    }

    /// The version a rollback would restore: the one that was in production before the current
    /// one, per the history, and is archived now.
    pub fn previous_production(&self) -> Option<&VersionState> {
        let current = self.in_production()?;
        let stack = self.production_stack();
        let top = stack.iter().rposition(|&v| v == current.version)?;
        stack[..top]
            .iter()
            .rev()
            .filter_map(|&v| self.version(v))
            .find(|v| v.stage == ModelStage::Archived && v.version != current.version)
    }

    /// The versions that went to production, replaying the history: a promotion pushes, a
    /// rollback (archived to production) pops back to the version it restores.
    fn production_stack(&self) -> Vec<u32> {
        let mut stack = Vec::new();
        for change in self
            .history
            .iter()
            .filter(|c| c.to == ModelStage::Production)
        {
            let restored = (change.from == ModelStage::Archived)
                .then(|| stack.iter().rposition(|&v| v == change.version))
                .flatten();
            match restored {
                Some(at) => stack.truncate(at + 1),
                None => stack.push(change.version),
            }
        }
        stack
    }

    /// Applies `transition` as a store would, all or nothing: `Err` (and nothing changed) when a
    /// condition fails, i.e. someone else wrote first.
    pub fn apply(&mut self, transition: &Transition) -> Result<(), String> {
        if transition.model != self.model {
            return Err(format!(
                "a transition of {} does not apply to {}",
                transition.model, self.model
            ));
        }
        if !transition.history.is_empty() && self.history.len() != transition.history_len {
            return Err(format!(
                "conflict: {}'s history has {} entries, {} expected",
                self.model,
                self.history.len(),
                transition.history_len
            ));
        }
        for write in &transition.writes {
            match self.version(write.version) {
                Some(v) if v.revision == write.expected_revision => {}
                Some(v) => {
                    return Err(format!(
                        "conflict: {} v{} is at revision {}, {} expected",
                        self.model, write.version, v.revision, write.expected_revision
                    ));
                }
                None => return Err(format!("{} has no version {}", self.model, write.version)),
            }
        }
        for write in &transition.writes {
            if let Some(v) = self
                .versions
                .iter_mut()
                .find(|v| v.version == write.version)
            {
                v.stage = write.stage;
                v.approvals.clone_from(&write.approvals);
                v.revision = write.revision();
            }
        }
        self.history.extend(transition.history.iter().cloned());
        Ok(())
    }
}

/// What a person asks of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// To `staging` (a candidate whose tests passed) or to `production` (a version in staging
    /// with its approvals).
    Promote { version: u32, to: ModelStage },
    Approve {
        version: u32,
        comment: Option<String>,
    },
    /// The comment is required: it says why.
    Reject { version: u32, comment: String },
    /// Brings back the previous production version. `from` names the version in production it
    /// replaces, as the caller saw it: a repeat of a rollback that landed then answers what it
    /// did instead of rolling back one version further.
    Rollback {
        comment: Option<String>,
        from: Option<u32>,
    },
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Decision {
    /// Nothing to write; the reason, for the user.
    Refused(String),
    Apply(Transition),
    /// Nothing to write: the request already landed, and these are the changes it made.
    Done(Vec<StageChange>),
}

impl Decision {
    pub fn refusal(&self) -> Option<&str> {
        match self {
            Self::Refused(reason) => Some(reason),
            Self::Apply(_) | Self::Done(_) => None,
        }
    }

    pub fn transition(self) -> Option<Transition> {
        match self {
            Self::Refused(_) | Self::Done(_) => None,
            Self::Apply(t) => Some(t),
        }
    }
}

/// What to write, in one transaction: the versions (each conditional on its revision), the new
/// stage history entries (conditional on the history's length) and the audit events.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub model: String,
    pub writes: Vec<VersionWrite>,
    /// The history's length when it was read: the new entries take the next positions.
    pub history_len: usize,
    pub history: Vec<StageChange>,
    pub audit: Vec<AuditEvent>,
}

/// One version's new stage and approvals, written if its revision is still `expected_revision`.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionWrite {
    pub version: u32,
    pub expected_revision: u64,
    pub stage: ModelStage,
    /// The whole list, replacing the stored one.
    pub approvals: Vec<Approval>,
}

impl VersionWrite {
    /// The revision the version has once written.
    pub fn revision(&self) -> u64 {
        self.expected_revision + 1
    }
}

impl Request {
    /// The verb of the request, as its audit actions name it: `approve`, `promote`, ...
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Promote { .. } => "promote",
            Self::Approve { .. } => "approve",
            Self::Reject { .. } => "reject",
            Self::Rollback { .. } => "rollback",
        }
    }

    /// The version it is about; a rollback is about the model.
    pub fn version(&self) -> Option<u32> {
        match self {
            Self::Promote { version, .. }
            | Self::Approve { version, .. }
            | Self::Reject { version, .. } => Some(*version),
            Self::Rollback { .. } => None,
        }
    }

    fn comment(&self) -> Option<&str> {
        match self {
            Self::Approve { comment, .. } | Self::Rollback { comment, .. } => comment.as_deref(),
            Self::Reject { comment, .. } => Some(comment.as_str()),
            Self::Promote { .. } => None,
        }
        .map(str::trim)
        .filter(|c| !c.is_empty())
    }
}

/// The audit event of a request the rules refused: `model.<verb>.refused` (such as
/// `model.approve.refused`) on the version (or, for a rollback, the model), by who asked, with
/// the reason. An attempt is a fact for an auditor as much as a decision is; it changes nothing
/// else, so it is appended on its own.
pub fn refusal(
    model: &str,
    request: &Request,
    actor: &UserId,
    at: Timestamp,
    reason: &str,
) -> AuditEvent {
    let subject = match request.version() {
        Some(version) => subject(model, version),
        None => format!("model/{model}"),
    };
    let mut details = json!({ "reason": reason });
    if let Request::Promote { to, .. } = request {
        details["to"] = json!(to.as_str());
    }
    let event = AuditEvent::new(
        at,
        actor.clone(),
        format!("model.{}.refused", request.verb()),
        subject,
    )
    .details(details);
    match request.comment() {
        Some(c) => event.comment(c),
        None => event,
    }
}

/// The audit subject of a model version: `model/<name>/v<N>`.
pub fn subject(model: &str, version: u32) -> String {
    format!("model/{model}/v{version}")
}

/// Decides `request`, made by `actor` at `at`, under the pipeline's promotion `policy`.
pub fn decide(
    state: &ModelState,
    policy: &Promotion,
    request: &Request,
    actor: &UserId,
    at: Timestamp,
) -> Decision {
    let ctx = Context {
        state,
        policy,
        actor,
        at,
    };
    if let Some(done) = ctx.landed_already(request) {
        return done;
    }
    let decided = match request {
        Request::Promote { version, to } => ctx.promote(*version, *to),
        Request::Approve { version, comment } => ctx.approve(*version, comment.as_deref()),
        Request::Reject { version, comment } => ctx.reject(*version, comment),
        Request::Rollback { comment, from } => {
            if let Some(done) = ctx.rolled_back_already(*from) {
                return done;
            }
            ctx.rollback(comment.as_deref())
        }
    };
    match decided {
        Ok(t) => Decision::Apply(t),
        Err(reason) => Decision::Refused(reason),
    }
}

/// What follows a version's test report (already in `state`): the move to staging when the
/// policy says `auto_staging`, the version is a candidate and its tests passed; `None` otherwise.
/// `actor` is whoever the handler records automatic decisions as.
pub fn auto_stage(
    state: &ModelState,
    policy: &Promotion,
    version: u32,
    actor: &UserId,
    at: Timestamp,
) -> Option<Transition> {
    let v = state.version(version)?;
    if !policy.auto_staging || v.stage != ModelStage::Candidate {
        return None;
    }
    let ctx = Context {
        state,
        policy,
        actor,
        at,
    };
    let mut t = ctx.promote(version, ModelStage::Staging).ok()?;
    for event in &mut t.audit {
        event.details = json!({ "automatic": true });
    }
    Some(t)
}

struct Context<'a> {
    state: &'a ModelState,
    policy: &'a Promotion,
    actor: &'a UserId,
    at: Timestamp,
}

/// The approvals that count, and those that no longer do (for the refusal's text).
struct Tally {
    valid: Vec<UserId>,
    expired: Vec<Approval>,
}

impl Context<'_> {
    fn name(&self, version: u32) -> String {
        format!("{} v{version}", self.state.model)
    }

    fn find(&self, version: u32) -> Result<&VersionState, String> {
        self.state
            .version(version)
            .ok_or_else(|| format!("{} has no version {version}", self.state.model))
    }

    fn required(&self) -> usize {
        self.policy.approvals.max(1) as usize
    }

    fn valid_for(&self) -> Duration {
        self.policy.approval_valid_for.0
    }

    /// `Err` with the reason unless the version's model tests passed.
    fn passed(&self, v: &VersionState) -> Result<(), String> {
        let name = self.name(v.version);
        match &v.report {
            Some(TestVerdict::Passed) => Ok(()),
            Some(TestVerdict::Failed { reason }) => Err(format!(
                "{name} failed its model tests ({reason}): it cannot be promoted"
            )),
            None => Err(format!(
                "{name} has no test report yet: it cannot be promoted before its model tests pass"
            )),
        }
    }

    fn tally(&self, v: &VersionState, approvals: &[Approval]) -> Tally {
        let mut valid = BTreeSet::new();
        let mut expired = Vec::new();
        for a in approvals
            .iter()
            .filter(|a| v.contribution(&a.approver).is_none())
        {
            if a.is_valid_at(self.at, self.valid_for()) {
                valid.insert(a.approver.clone());
            } else {
                expired.push(a.clone());
            }
        }
        expired.retain(|a| !valid.contains(&a.approver));
        Tally {
            valid: valid.into_iter().collect(),
            expired,
        }
    }

    fn audit(&self, version: u32, action: &str, from: ModelStage, to: ModelStage) -> AuditEvent {
        AuditEvent::new(
            self.at,
            self.actor.clone(),
            action,
            subject(&self.state.model, version),
        )
        .from(from.as_str())
        .to(to.as_str())
    }

    fn transition(&self) -> Transition {
        Transition {
            model: self.state.model.clone(),
            writes: Vec::new(),
            history_len: self.state.history.len(),
            history: Vec::new(),
            audit: Vec::new(),
        }
    }

    /// Adds the write of `v` in `stage` with `approvals`, and its history entry if it moves.
    fn write(
        &self,
        t: &mut Transition,
        v: &VersionState,
        stage: ModelStage,
        approvals: Vec<Approval>,
    ) {
        t.writes.push(VersionWrite {
            version: v.version,
            expected_revision: v.revision,
            stage,
            approvals,
        });
        if stage != v.stage {
            t.history.push(StageChange {
                version: v.version,
                from: v.stage,
                to: stage,
                at: self.at,
                actor: self.actor.clone(),
            });
        }
    }

    fn promote(&self, version: u32, to: ModelStage) -> Result<Transition, String> {
        let v = self.find(version)?;
        let name = self.name(version);
        match (to, v.stage) {
            (ModelStage::Staging, ModelStage::Candidate)
            | (ModelStage::Production, ModelStage::Candidate | ModelStage::Staging) => {}
            (ModelStage::Staging | ModelStage::Production, stage) if stage == to => {
                return Err(format!("{name} is {} already", describe(stage)));
            }
            (ModelStage::Staging | ModelStage::Production, stage) => {
                return Err(format!(
                    "{name} is {}: it cannot go to {}",
                    describe(stage),
                    to.as_str()
                ));
            }
            (ModelStage::Rejected, _) => {
                return Err("to reject a version, reject it with a comment saying why".into());
            }
            (ModelStage::Archived, _) => {
                return Err(
                    "a version is archived when another replaces it in production, or by a \
                     rollback"
                        .into(),
                );
            }
            (ModelStage::Candidate, _) => {
                return Err("a version is a candidate only when its run registers it".into());
            }
        }
        self.passed(v)?;
        let mut t = self.transition();
        if to == ModelStage::Staging {
            self.write(&mut t, v, ModelStage::Staging, v.approvals.clone());
            t.audit
                .push(self.audit(version, "model.promoted", v.stage, ModelStage::Staging));
            return Ok(t);
        }
        if v.stage == ModelStage::Candidate {
            return Err(format!(
                "{name} is a candidate: it goes to staging first, then to production with {} \
                 approval(s)",
                self.required()
            ));
        }
        let tally = self.tally(v, &v.approvals);
        if tally.valid.len() < self.required() {
            return Err(self.missing_approvals(v, &tally));
        }
        self.promote_to_production(&mut t, v, v.approvals.clone(), &tally.valid);
        Ok(t)
    }

    fn missing_approvals(&self, v: &VersionState, tally: &Tally) -> String {
        let mut reason = format!(
            "{} needs {} approval(s) by distinct approvers other than its author ({}); it has {}",
            self.name(v.version),
            self.required(),
            v.author,
            tally.valid.len()
        );
        if !tally.valid.is_empty() {
            reason += &format!(" ({})", join(&tally.valid));
        }
        for a in &tally.expired {
            match a.expires_at(self.valid_for()) {
                Some(end) => reason += &format!("; {}'s approval expired at {end}", a.approver),
                None => reason += &format!("; {}'s approval expired", a.approver),
            }
        }
        reason
    }

    /// Adds the move of `v` from staging to production, and the archiving of the version that
    /// was in production.
    fn promote_to_production(
        &self,
        t: &mut Transition,
        v: &VersionState,
        approvals: Vec<Approval>,
        approvers: &[UserId],
    ) {
        let replaced = self
            .state
            .in_production()
            .filter(|old| old.version != v.version);
        self.write(t, v, ModelStage::Production, approvals);
        t.audit.push(
            self.audit(v.version, "model.promoted", v.stage, ModelStage::Production)
                .details(json!({
                    "approvers": approvers.iter().map(UserId::as_str).collect::<Vec<_>>(),
                    "replaces": replaced.map(|old| old.version),
                })),
        );
        if let Some(old) = replaced {
            self.write(t, old, ModelStage::Archived, old.approvals.clone());
            t.audit.push(
                self.audit(
                    old.version,
                    "model.archived",
                    old.stage,
                    ModelStage::Archived,
                )
                .details(json!({ "replaced_by": v.version })),
            );
        }
    }

    fn approve(&self, version: u32, comment: Option<&str>) -> Result<Transition, String> {
        let v = self.find(version)?;
        let name = self.name(version);
        if *self.actor == v.author {
            return Err(format!(
                "{} is the author of {name} and cannot approve it: approvals come from others",
                self.actor
            ));
        }
        if let Some(role) = v.contribution(self.actor) {
            return Err(format!(
                "{} {role}, so contributed to {name}, and cannot approve it: approvals come \
                 from others",
                self.actor
            ));
        }
        match v.stage {
            ModelStage::Staging => {}
            ModelStage::Candidate => {
                return Err(format!(
                    "{name} is a candidate: approvals are taken once it is in staging"
                ));
            }
            stage => {
                return Err(format!(
                    "{name} is {}: only a version in staging can be approved",
                    describe(stage)
                ));
            }
        }
        self.passed(v)?;
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        let replaces = v.approvals.iter().any(|a| a.approver == *self.actor);
        let mut approvals: Vec<Approval> = v
            .approvals
            .iter()
            .filter(|a| a.approver != *self.actor)
            .cloned()
            .collect();
        approvals.push(Approval {
            approver: self.actor.clone(),
            at: self.at,
            comment: comment.map(str::to_owned),
        });
        let tally = self.tally(v, &approvals);
        // An approval changes no stage by itself (the one that makes the count is followed by
        // its `model.promoted`), so it says how far the count is, not a transition.
        let mut approved = AuditEvent::new(
            self.at,
            self.actor.clone(),
            "model.approved",
            subject(&self.state.model, version),
        )
        .details(json!({
            "approvals": tally.valid.len(),
            "required": self.required(),
            "replaces_earlier_approval": replaces,
        }));
        if let Some(c) = comment {
            approved = approved.comment(c);
        }
        let mut t = self.transition();
        t.audit.push(approved);
        if tally.valid.len() >= self.required() {
            self.promote_to_production(&mut t, v, approvals, &tally.valid);
        } else {
            self.write(&mut t, v, v.stage, approvals);
        }
        Ok(t)
    }

    fn reject(&self, version: u32, comment: &str) -> Result<Transition, String> {
        let v = self.find(version)?;
        let name = self.name(version);
        match v.stage {
            ModelStage::Candidate | ModelStage::Staging => {}
            ModelStage::Production => {
                return Err(format!(
                    "{name} is in production: it cannot be rejected; roll back to replace it"
                ));
            }
            stage => return Err(format!("{name} is {} already", describe(stage))),
        }
        let comment = comment.trim();
        if comment.is_empty() {
            return Err(format!("rejecting {name} needs a comment saying why"));
        }
        let mut t = self.transition();
        self.write(&mut t, v, ModelStage::Rejected, v.approvals.clone());
        t.audit.push(
            self.audit(version, "model.rejected", v.stage, ModelStage::Rejected)
                .comment(comment),
        );
        Ok(t)
    }

    /// The changes `request` made, when it is one the caller made already and it landed: a
    /// version they moved to the stage the request asks (their approval that promoted it,
    /// their promotion, their rejection) answers with that move, so a repeat changes nothing.
    fn landed_already(&self, request: &Request) -> Option<Decision> {
        let (version, to) = match request {
            Request::Approve { version, .. } => (*version, ModelStage::Production),
            Request::Promote { version, to } => (*version, *to),
            Request::Reject { version, .. } => (*version, ModelStage::Rejected),
            Request::Rollback { .. } => return None,
        };
        if self.state.version(version)?.stage != to {
            return None;
        }
        let history = &self.state.history;
        let i = history
            .iter()
            .rposition(|c| c.version == version && c.to == to)?;
        let made = &history[i];
        if made.actor != *self.actor {
            return None;
        }
        // The whole transition: the entries it wrote together (a promotion archives the version
        // it replaces in the same one).
        let same = |c: &&StageChange| c.at == made.at && c.actor == made.actor;
        let start = history[..i]
            .iter()
            .rposition(|c| !same(&c))
            .map_or(0, |j| j + 1);
        let end = history[i..]
            .iter()
            .position(|c| !same(&c))
            .map_or(history.len(), |j| i + j);
        Some(Decision::Done(history[start..end].to_vec()))
    }

    /// A rollback of `from` when `from` is no longer in production: the changes that rolled it
    /// back if one did (the request landed already), a refusal naming what is in production if
    /// not. `None` when there is nothing to say: `from` is what is in production, or unnamed.
    fn rolled_back_already(&self, from: Option<u32>) -> Option<Decision> {
        let from = from?;
        let model = &self.state.model;
        let current = self.state.in_production().map(|v| v.version);
        if current == Some(from) {
            return None;
        }
        let history = &self.state.history;
        // A rollback of `from` wrote two entries: `from` archived, then the version before it
        // restored (a promotion that archived `from` is not one).
        let rolled = history.windows(2).rposition(|w| {
            w[0].version == from
                && (w[0].from, w[0].to) == (ModelStage::Production, ModelStage::Archived)
                && (w[1].from, w[1].to) == (ModelStage::Archived, ModelStage::Production)
        });
        Some(match rolled {
            Some(i) => Decision::Done(history[i..i + 2].to_vec()),
            None => Decision::Refused(match current {
                Some(v) => format!(
                    "{model} v{from} is not in production (v{v} is): roll back what is in \
                     production by naming v{v}"
                ),
                None => format!("{model} v{from} is not in production, and nothing is"),
            }),
        })
    }

    fn rollback(&self, comment: Option<&str>) -> Result<Transition, String> {
        let model = &self.state.model;
        let Some(current) = self.state.in_production() else {
            return Err(format!(
                "{model} has no version in production: there is nothing to roll back"
            ));
        };
        let Some(previous) = self.state.previous_production() else {
            return Err(format!(
                "{model} has no previous production version to roll back to: v{} is the first",
                current.version
            ));
        };
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        let mut rolled_back = self
            .audit(
                current.version,
                "model.rolled_back",
                current.stage,
                ModelStage::Archived,
            )
            .details(json!({ "restored": previous.version }));
        let mut restored = self
            .audit(
                previous.version,
                "model.restored",
                previous.stage,
                ModelStage::Production,
            )
            .details(json!({ "rolled_back": current.version }));
        if let Some(c) = comment {
            rolled_back = rolled_back.comment(c);
            restored = restored.comment(c);
        }
        let mut t = self.transition();
        self.write(
            &mut t,
            current,
            ModelStage::Archived,
            current.approvals.clone(),
        );
        self.write(
            &mut t,
            previous,
            ModelStage::Production,
            previous.approvals.clone(),
        );
        t.audit.push(rolled_back);
        t.audit.push(restored);
        Ok(t)
    }
}

/// A stage as the end of "v3 is ...".
fn describe(stage: ModelStage) -> &'static str {
    match stage {
        ModelStage::Candidate => "a candidate",
        ModelStage::Staging => "in staging",
        ModelStage::Production => "in production",
        ModelStage::Archived => "archived",
        ModelStage::Rejected => "rejected",
    }
}

fn join(users: &[UserId]) -> String {
    users
        .iter()
        .map(UserId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Period;

    const DAY: Duration = Duration::from_secs(86_400);

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    fn t0() -> Timestamp {
        "2025-06-02T09:00:00Z".parse().unwrap()
    }

    fn days(n: u32) -> Timestamp {
        t0().checked_add(DAY * n).unwrap()
    }

    fn policy(approvals: u32) -> Promotion {
        Promotion {
            auto_staging: true,
            approvals,
            approval_valid_for: Period(DAY * 7),
        }
    }

    /// A candidate by alice, with the given report.
    fn candidate(version: u32, report: Option<TestVerdict>) -> VersionState {
        VersionState {
            version,
            stage: ModelStage::Candidate,
            author: user("alice"),
            contributors: vec![Contributor {
                user: user("dave"),
                role: "uploaded wine v1 (its training data)".into(),
            }],
            revision: 0,
            approvals: Vec::new(),
            report,
        }
    }

    fn passing(version: u32) -> VersionState {
        candidate(version, Some(TestVerdict::Passed))
    }

    fn model(versions: Vec<VersionState>) -> ModelState {
        ModelState {
            model: "churn".into(),
            versions,
            history: Vec::new(),
        }
    }

    fn stage(state: &ModelState, version: u32) -> ModelStage {
        state.version(version).unwrap().stage
    }

    fn ask(
        state: &ModelState,
        policy: &Promotion,
        request: Request,
        who: &str,
        at: Timestamp,
    ) -> Decision {
        decide(state, policy, &request, &user(who), at)
    }

    fn stage_request(version: u32) -> Request {
        Request::Promote {
            version,
            to: ModelStage::Staging,
        }
    }

    fn production_request(version: u32) -> Request {
        Request::Promote {
            version,
            to: ModelStage::Production,
        }
    }

    fn approve(version: u32) -> Request {
        Request::Approve {
            version,
            comment: None,
        }
    }

    fn refused(decision: Decision) -> String {
        match decision {
            Decision::Refused(reason) => reason,
            Decision::Apply(t) => panic!("expected a refusal, got {t:#?}"),
            Decision::Done(c) => panic!("expected a refusal, got changes already made {c:#?}"),
        }
    }

    /// Decides and applies; panics on a refusal or a conflict.
    fn step(
        state: &mut ModelState,
        policy: &Promotion,
        request: Request,
        who: &str,
        at: Timestamp,
    ) -> Transition {
        let t = match ask(state, policy, request, who, at) {
            Decision::Apply(t) => t,
            Decision::Refused(reason) => panic!("refused: {reason}"),
            Decision::Done(c) => panic!("landed already: {c:#?}"),
        };
        state.apply(&t).unwrap();
        t
    }

    /// Applies the automatic move of a passing candidate to staging.
    fn auto(state: &mut ModelState, policy: &Promotion, version: u32, at: Timestamp) {
        let t = auto_stage(state, policy, version, &user("tollgate"), at).unwrap();
        state.apply(&t).unwrap();
    }

    /// Takes a passing candidate to production: automatic staging, then bob's approval.
    fn ship(state: &mut ModelState, version: u32, at: Timestamp) {
        auto(state, &policy(1), version, at);
        step(state, &policy(1), approve(version), "bob", at);
        assert_eq!(stage(state, version), ModelStage::Production);
    }

    #[test]
    fn an_author_cannot_approve_their_own_model() {
        let mut state = model(vec![passing(1)]);
        step(&mut state, &policy(1), stage_request(1), "carol", t0());

        let reason = refused(ask(&state, &policy(1), approve(1), "alice", t0()));

        assert_eq!(
            reason,
            "alice is the author of churn v1 and cannot approve it: approvals come from others"
        );
        assert_eq!(stage(&state, 1), ModelStage::Staging);
    }

    #[test]
    fn no_contributor_can_approve_nor_count_as_an_approver() {
        let mut state = model(vec![passing(1)]);
        step(&mut state, &policy(1), stage_request(1), "carol", t0());

        let reason = refused(ask(&state, &policy(1), approve(1), "Dave", t0()));

        assert_eq!(
            reason,
            "dave uploaded wine v1 (its training data), so contributed to churn v1, and cannot \
             approve it: approvals come from others"
        );
        // An approval stored before the rule (or by a contributor recorded later) is not one.
        state.versions[0].approvals.push(Approval {
            approver: user("dave"),
            at: t0(),
            comment: None,
        });
        let reason = refused(ask(
            &state,
            &policy(1),
            production_request(1),
            "carol",
            t0(),
        ));
        assert!(reason.contains("it has 0"), "{reason}");
        // Someone who had no hand in it can.
        step(&mut state, &policy(1), approve(1), "bob", t0());
        assert_eq!(stage(&state, 1), ModelStage::Production);
    }

    #[test]
    fn a_refusal_is_audited_with_who_asked_what_and_why() {
        let reason = "alice is the author of churn v1 and cannot approve it";
        let request = Request::Approve {
            version: 1,
            comment: Some(" looks fine ".into()),
        };

        let event = refusal("churn", &request, &user("alice"), t0(), reason);

        assert_eq!(event.action, "model.approve.refused");
        assert_eq!(event.subject, "model/churn/v1");
        assert_eq!(event.actor, user("alice"));
        assert_eq!(event.at, t0());
        assert_eq!(event.details["reason"], reason);
        assert_eq!(event.comment.as_deref(), Some("looks fine"));
        assert_eq!((event.from, event.to), (None, None), "nothing moved");
        let rollback = refusal(
            "churn",
            &Request::Rollback {
                comment: None,
                from: None,
            },
            &user("bob"),
            t0(),
            "nothing to roll back",
        );
        assert_eq!(
            (rollback.action.as_str(), rollback.subject.as_str()),
            ("model.rollback.refused", "model/churn")
        );
    }

    #[test]
    fn an_approval_short_of_the_count_says_how_far_it_is_not_a_transition() {
        let mut state = model(vec![passing(1)]);
        auto(&mut state, &policy(2), 1, t0());

        let t = step(&mut state, &policy(2), approve(1), "bob", t0());

        let approved = &t.audit[0];
        assert_eq!(approved.action, "model.approved");
        assert_eq!((&approved.from, &approved.to), (&None, &None));
        assert_eq!(approved.details["approvals"], 1);
        assert_eq!(approved.details["required"], 2);
        assert!(t.history.is_empty(), "no stage changed");
    }

    #[test]
    fn an_approval_by_the_author_already_stored_does_not_count() {
        let mut v = passing(1);
        v.stage = ModelStage::Staging;
        v.approvals.push(Approval {
            approver: user("alice"),
            at: t0(),
            comment: None,
        });
        let state = model(vec![v]);

        let reason = refused(ask(
            &state,
            &policy(1),
            production_request(1),
            "alice",
            t0(),
        ));

        assert!(
            reason.contains("needs 1 approval(s)") && reason.contains("it has 0"),
            "{reason}"
        );
    }

    #[test]
    fn two_approvals_need_two_approvers_and_one_approving_twice_counts_once() {
        let two = policy(2);
        let mut state = model(vec![passing(1)]);
        auto(&mut state, &two, 1, t0());

        step(&mut state, &two, approve(1), "bob", t0());
        assert_eq!(stage(&state, 1), ModelStage::Staging, "one approval of two");

        let again = Request::Approve {
            version: 1,
            comment: Some("still fine".into()),
        };
        step(&mut state, &two, again, "bob", days(1));
        assert_eq!(
            stage(&state, 1),
            ModelStage::Staging,
            "bob twice is still one approver"
        );
        let approvals = &state.version(1).unwrap().approvals;
        assert_eq!(approvals.len(), 1, "the second approval replaces the first");
        assert_eq!(approvals[0].at, days(1));
        assert_eq!(approvals[0].comment.as_deref(), Some("still fine"));

        let t = step(&mut state, &two, approve(1), "carol", days(1));
        assert_eq!(stage(&state, 1), ModelStage::Production);
        let promoted = t
            .audit
            .iter()
            .find(|e| e.action == "model.promoted")
            .unwrap();
        assert_eq!(promoted.details["approvers"], json!(["bob", "carol"]));
    }

    #[test]
    fn an_expired_approval_does_not_count() {
        let two = policy(2);
        let mut state = model(vec![passing(1)]);
        auto(&mut state, &two, 1, t0());
        step(&mut state, &two, approve(1), "bob", t0());

        // GIVEN bob's approval is 8 days old, and valid for 7
        // WHEN carol approves
        step(&mut state, &two, approve(1), "carol", days(8));

        // THEN the version stays in staging, and asking for production says why
        assert_eq!(stage(&state, 1), ModelStage::Staging);
        let reason = refused(ask(&state, &two, production_request(1), "carol", days(8)));
        assert_eq!(
            reason,
            "churn v1 needs 2 approval(s) by distinct approvers other than its author (alice); \
             it has 1 (carol); bob's approval expired at 2025-06-09T09:00:00Z"
        );

        // AND bob approving again counts again
        step(&mut state, &two, approve(1), "bob", days(8));
        assert_eq!(stage(&state, 1), ModelStage::Production);
    }

    #[test]
    fn an_approval_counts_until_the_end_of_its_validity_and_not_at_it() {
        let a = Approval {
            approver: user("bob"),
            at: t0(),
            comment: None,
        };
        assert!(a.is_valid_at(
            days(7).checked_sub(Duration::from_secs(1)).unwrap(),
            DAY * 7
        ));
        assert!(!a.is_valid_at(days(7), DAY * 7));
    }

    #[test]
    fn a_missing_or_failing_report_blocks_promotion_with_the_reason() {
        let failed = TestVerdict::Failed {
            reason: "accuracy 0.71 < 0.80".into(),
        };
        let state = model(vec![candidate(1, None), candidate(2, Some(failed))]);

        assert_eq!(
            refused(ask(&state, &policy(1), stage_request(1), "carol", t0())),
            "churn v1 has no test report yet: it cannot be promoted before its model tests pass"
        );
        assert_eq!(
            refused(ask(&state, &policy(1), stage_request(2), "carol", t0())),
            "churn v2 failed its model tests (accuracy 0.71 < 0.80): it cannot be promoted"
        );
        assert!(auto_stage(&state, &policy(1), 1, &user("tollgate"), t0()).is_none());
        assert!(auto_stage(&state, &policy(1), 2, &user("tollgate"), t0()).is_none());
    }

    #[test]
    fn a_failing_report_blocks_production_and_approvals_in_staging_too() {
        let mut v = candidate(
            1,
            Some(TestVerdict::Failed {
                reason: "fairness gap 0.2 > 0.1".into(),
            }),
        );
        v.stage = ModelStage::Staging;
        let state = model(vec![v]);

        let promote = refused(ask(
            &state,
            &policy(1),
            production_request(1),
            "carol",
            t0(),
        ));
        let approval = refused(ask(&state, &policy(1), approve(1), "bob", t0()));

        assert!(
            promote.contains("failed its model tests (fairness gap 0.2 > 0.1)"),
            "{promote}"
        );
        assert_eq!(approval, promote);
    }

    #[test]
    fn a_passing_candidate_goes_to_staging_by_itself_only_when_the_policy_says_so() {
        let mut state = model(vec![passing(1)]);
        let manual = Promotion {
            auto_staging: false,
            ..policy(1)
        };
        assert!(auto_stage(&state, &manual, 1, &user("tollgate"), t0()).is_none());

        let t = auto_stage(&state, &policy(1), 1, &user("tollgate"), t0()).unwrap();
        state.apply(&t).unwrap();

        assert_eq!(stage(&state, 1), ModelStage::Staging);
        assert_eq!(t.audit[0].actor, user("tollgate"));
        assert_eq!(t.audit[0].details["automatic"], json!(true));
        assert!(
            auto_stage(&state, &policy(1), 1, &user("tollgate"), t0()).is_none(),
            "once"
        );
    }

    #[test]
    fn approvals_are_taken_in_staging_only() {
        let state = model(vec![passing(1)]);

        assert_eq!(
            refused(ask(&state, &policy(1), approve(1), "bob", t0())),
            "churn v1 is a candidate: approvals are taken once it is in staging"
        );
        assert_eq!(
            refused(ask(&state, &policy(1), approve(9), "bob", t0())),
            "churn has no version 9"
        );
    }

    #[test]
    fn the_approval_that_makes_the_count_promotes_and_archives_the_version_in_production() {
        let mut state = model(vec![passing(1), passing(2)]);
        ship(&mut state, 1, t0());
        auto(&mut state, &policy(1), 2, days(1));
        let (v1, v2) = (
            state.version(1).unwrap().revision,
            state.version(2).unwrap().revision,
        );

        let t = step(&mut state, &policy(1), approve(2), "carol", days(1));

        assert_eq!(stage(&state, 2), ModelStage::Production);
        assert_eq!(stage(&state, 1), ModelStage::Archived);
        let expected: Vec<_> = t
            .writes
            .iter()
            .map(|w| (w.version, w.expected_revision, w.stage))
            .collect();
        assert_eq!(
            expected,
            [
                (2, v2, ModelStage::Production),
                (1, v1, ModelStage::Archived)
            ],
            "both versions written, each conditional on the revision read"
        );
        let actions: Vec<_> = t
            .audit
            .iter()
            .map(|e| (e.action.as_str(), e.subject.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("model.approved", "model/churn/v2"),
                ("model.promoted", "model/churn/v2"),
                ("model.archived", "model/churn/v1"),
            ]
        );
    }

    #[test]
    fn production_is_never_asked_for_without_the_approvals() {
        let mut state = model(vec![passing(1)]);
        auto(&mut state, &policy(1), 1, t0());
        let to_production = production_request(1);

        assert_eq!(
            refused(ask(
                &state,
                &policy(1),
                to_production.clone(),
                "alice",
                t0()
            )),
            "churn v1 needs 1 approval(s) by distinct approvers other than its author (alice); \
             it has 0"
        );
        // A policy of zero approvals (which the pipeline check refuses) still needs one.
        assert!(
            ask(&state, &policy(0), to_production, "alice", t0())
                .refusal()
                .is_some()
        );
    }

    #[test]
    fn two_transitions_decided_on_the_same_state_cannot_both_land() {
        // GIVEN two versions in staging and none in production: a promotion archives nothing
        let mut state = model(vec![passing(1), passing(2)]);
        for v in [1, 2] {
            auto(&mut state, &policy(1), v, t0());
        }
        // WHEN both are approved on the same read
        let first = ask(&state, &policy(1), approve(1), "bob", t0())
            .transition()
            .unwrap();
        let second = ask(&state, &policy(1), approve(2), "carol", t0())
            .transition()
            .unwrap();

        // THEN the second write finds the history grown and changes nothing
        state.apply(&first).unwrap();
        let before = state.clone();
        let conflict = state.apply(&second).unwrap_err();
        assert!(conflict.starts_with("conflict"), "{conflict}");
        assert_eq!(state, before);
        assert_eq!(stage(&state, 2), ModelStage::Staging);
    }

    #[test]
    fn a_write_on_a_stale_revision_is_a_conflict() {
        let mut state = model(vec![passing(1)]);
        auto(&mut state, &policy(2), 1, t0());
        let bob = ask(&state, &policy(2), approve(1), "bob", t0())
            .transition()
            .unwrap();
        let carol = ask(&state, &policy(2), approve(1), "carol", t0())
            .transition()
            .unwrap();

        state.apply(&bob).unwrap();

        assert!(
            state.apply(&carol).unwrap_err().contains("revision"),
            "carol re-reads and decides again"
        );
    }

    #[test]
    fn rollback_restores_the_previous_production_version_and_is_refused_without_one() {
        let mut state = model((1..=3).map(passing).collect());
        let rollback = || Request::Rollback {
            from: None,
            comment: Some("latency doubled".into()),
        };
        assert_eq!(
            refused(ask(&state, &policy(1), rollback(), "dave", t0())),
            "churn has no version in production: there is nothing to roll back"
        );
        ship(&mut state, 1, t0());
        assert_eq!(
            refused(ask(&state, &policy(1), rollback(), "dave", t0())),
            "churn has no previous production version to roll back to: v1 is the first"
        );
        ship(&mut state, 2, days(1));
        ship(&mut state, 3, days(2));

        let t = step(&mut state, &policy(1), rollback(), "dave", days(3));

        assert_eq!(stage(&state, 3), ModelStage::Archived);
        assert_eq!(stage(&state, 2), ModelStage::Production);
        assert_eq!(t.audit[0].action, "model.rolled_back");
        assert_eq!(t.audit[0].subject, "model/churn/v3");
        assert_eq!(t.audit[0].comment.as_deref(), Some("latency doubled"));
        assert_eq!(t.audit[0].details["restored"], json!(2));
        assert_eq!(t.audit[1].action, "model.restored");
        assert_eq!(t.audit[1].subject, "model/churn/v2");

        // Rolling back again goes further back, not forward to the version just rolled back.
        step(&mut state, &policy(1), rollback(), "dave", days(3));
        assert_eq!(stage(&state, 1), ModelStage::Production);
        assert_eq!(stage(&state, 2), ModelStage::Archived);
        assert!(
            refused(ask(&state, &policy(1), rollback(), "dave", days(3)))
                .contains("no previous production version")
        );
    }

    #[test]
    fn a_rollback_that_names_its_version_lands_once_however_often_it_is_asked() {
        let mut state = model((1..=3).map(passing).collect());
        for (v, at) in [(1, t0()), (2, days(1)), (3, days(2))] {
            ship(&mut state, v, at);
        }
        let rollback = |from| Request::Rollback {
            comment: None,
            from: Some(from),
        };
        let first = step(&mut state, &policy(1), rollback(3), "dave", days(3));
        assert_eq!(stage(&state, 2), ModelStage::Production);

        // Asked again (a retry after a lost answer, a second click, a race lost and decided
        // again): what the first did, and nothing more.
        match ask(&state, &policy(1), rollback(3), "erin", days(3)) {
            Decision::Done(changes) => assert_eq!(changes, first.history),
            other => panic!("the repeat answers what was done: {other:?}"),
        }
        assert_eq!(stage(&state, 2), ModelStage::Production, "not one further");
        let refusal = refused(ask(&state, &policy(1), rollback(1), "dave", days(3)));
        assert!(
            refusal.contains("v1 is not in production (v2 is)"),
            "{refusal}"
        );
        // Naming what is in production now rolls it back.
        step(&mut state, &policy(1), rollback(2), "dave", days(4));
        assert_eq!(stage(&state, 1), ModelStage::Production);
    }

    #[test]
    fn a_repeated_decision_answers_what_it_did() {
        let mut state = model((1..=2).map(passing).collect());
        ship(&mut state, 1, t0());
        auto(&mut state, &policy(1), 2, days(1));
        let landed = step(&mut state, &policy(1), approve(2), "bob", days(1));
        assert_eq!(stage(&state, 2), ModelStage::Production);
        match ask(&state, &policy(1), approve(2), "bob", days(1)) {
            Decision::Done(changes) => assert_eq!(changes, landed.history, "v2 up, v1 archived"),
            other => panic!("bob's repeat answers what it did: {other:?}"),
        }
        assert!(
            refused(ask(&state, &policy(1), approve(2), "erin", days(1)))
                .contains("only a version in staging can be approved"),
            "someone else's approval of a version in production is still refused"
        );
    }

    #[test]
    fn a_rejection_needs_a_comment() {
        let mut state = model(vec![passing(1), passing(2)]);
        let reject = |version, comment: &str| Request::Reject {
            version,
            comment: comment.into(),
        };

        assert_eq!(
            refused(ask(&state, &policy(1), reject(1, "  "), "bob", t0())),
            "rejecting churn v1 needs a comment saying why"
        );
        let t = step(
            &mut state,
            &policy(1),
            reject(1, "leaks the target"),
            "bob",
            t0(),
        );
        assert_eq!(stage(&state, 1), ModelStage::Rejected);
        assert_eq!(t.audit[0].action, "model.rejected");
        assert_eq!(t.audit[0].comment.as_deref(), Some("leaks the target"));

        ship(&mut state, 2, t0());
        assert_eq!(
            refused(ask(&state, &policy(1), reject(2, "too slow"), "bob", t0())),
            "churn v2 is in production: it cannot be rejected; roll back to replace it"
        );
    }

    #[test]
    fn every_transition_is_audited_with_its_stages_on_the_version_subject() {
        let mut state = model((1..=3).map(passing).collect());
        let reject = Request::Reject {
            version: 3,
            comment: "no".into(),
        };
        let requests = [
            (stage_request(1), "alice"),
            (approve(1), "bob"),
            (stage_request(2), "alice"),
            (approve(2), "bob"),
            (reject, "bob"),
            (
                Request::Rollback {
                    comment: None,
                    from: None,
                },
                "bob",
            ),
        ];

        let transitions: Vec<Transition> = requests
            .into_iter()
            .map(|(request, who)| step(&mut state, &policy(1), request, who, t0()))
            .collect();

        let actions: Vec<_> = transitions
            .iter()
            .flat_map(|t| &t.audit)
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            actions,
            [
                "model.promoted",
                "model.approved",
                "model.promoted",
                "model.promoted",
                "model.approved",
                "model.promoted",
                "model.archived",
                "model.rejected",
                "model.rolled_back",
                "model.restored",
            ]
        );
        for t in &transitions {
            for e in &t.audit {
                // An approval moves no stage: its count is in its details instead.
                let moves = e.action != "model.approved";
                assert_eq!(e.from.is_some() && e.to.is_some(), moves, "{e:?}");
                assert!(e.subject.starts_with("model/churn/v"), "{e:?}");
                assert_eq!(e.at, t0());
            }
            for change in &t.history {
                let event = t
                    .audit
                    .iter()
                    .find(|e| {
                        e.subject == subject("churn", change.version)
                            && e.to.as_deref() == Some(change.to.as_str())
                    })
                    .unwrap_or_else(|| panic!("no audit event for {change:?}"));
                assert_eq!(event.from.as_deref(), Some(change.from.as_str()));
            }
        }
        assert_eq!(
            state.history.len(),
            8,
            "two stagings, two promotions, an archiving, a rejection, a rollback's two"
        );
    }
}
