//! The instance state machine of the seed, as one pure function.
//!
//! ```text
//!   start ──► starting ──(worker up)──► running ──(bounded input done)──► finished
//!               │  ▲                      │  │
//!               │  └──────(restart)───────┘  └──(failure)──► failed
//!               │          resume
//!   pause ◄─────┴──── paused ◄──── pause ── running
//!   stop: starting | running | paused ──► terminated
//!   delete: finished | terminated | failed ──► deleted
//! ```
//!
//! User actions (`pause`, `resume`, `stop`, `delete`) and system events (`run`, `finish`,
//! `fail`, `restart`) go through [`transition`]; the store applies the result with a
//! conditional `UPDATE … WHERE state = <the state this decision was made on>`, so two
//! concurrent requests cannot both act on the same state. `start` creates a new instance in
//! `starting` and is guarded at the job level (one active instance per job).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    /// Waiting for a node to seize it, or its worker is starting.
    Starting,
    Running,
    /// Stopped with a savepoint (its path on the instance); `resume` restores from it.
    Paused,
    /// Bounded sources exhausted and every sink flushed.
    Finished,
    /// Stopped by a user.
    Terminated,
    /// Failed with a classified error, restart attempts exhausted.
    Failed,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    // User actions.
    Start,
    Pause,
    Resume,
    Stop,
    Delete,
    // System events, reported by the node that holds the instance's lease.
    Run,
    Finish,
    Fail,
    Restart,
}

pub const USER_ACTIONS: [Action; 5] = [
    Action::Start,
    Action::Pause,
    Action::Resume,
    Action::Stop,
    Action::Delete,
];

pub const ALL_ACTIONS: [Action; 9] = [
    Action::Start,
    Action::Pause,
    Action::Resume,
    Action::Stop,
    Action::Delete,
    Action::Run,
    Action::Finish,
    Action::Fail,
    Action::Restart,
];

pub const ALL_STATES: [InstanceState; 7] = [
    InstanceState::Starting,
    InstanceState::Running,
    InstanceState::Paused,
    InstanceState::Finished,
    InstanceState::Terminated,
    InstanceState::Failed,
    InstanceState::Deleted,
];

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Starting => "starting",
            InstanceState::Running => "running",
            InstanceState::Paused => "paused",
            InstanceState::Finished => "finished",
            InstanceState::Terminated => "terminated",
            InstanceState::Failed => "failed",
            InstanceState::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL_STATES.into_iter().find(|st| st.as_str() == s)
    }

    /// States in which the instance needs a worker process (and so a lease).
    pub fn needs_worker(self) -> bool {
        matches!(self, InstanceState::Starting | InstanceState::Running)
    }

    /// States that keep the job's one active-instance slot: a job cannot be started again
    /// while its instance is in one of these.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            InstanceState::Starting | InstanceState::Running | InstanceState::Paused
        )
    }
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Stop => "stop",
            Action::Delete => "delete",
            Action::Run => "run",
            Action::Finish => "finish",
            Action::Fail => "fail",
            Action::Restart => "restart",
        }
    }

    pub fn is_user_action(self) -> bool {
        USER_ACTIONS.contains(&self)
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state `action` leads to from `state`, or `None` when the action is illegal there.
/// `Start` never applies to an existing instance (it creates one).
pub fn transition(state: InstanceState, action: Action) -> Option<InstanceState> {
    use Action as A;
    use InstanceState as S;
    Some(match (state, action) {
        (S::Starting | S::Running, A::Pause) => S::Paused,
        (S::Paused, A::Resume) => S::Starting,
        (S::Starting | S::Running | S::Paused, A::Stop) => S::Terminated,
        (S::Finished | S::Terminated | S::Failed, A::Delete) => S::Deleted,
        (S::Starting, A::Run) => S::Running,
        (S::Running, A::Finish) => S::Finished,
        (S::Starting | S::Running, A::Fail) => S::Failed,
        (S::Starting | S::Running, A::Restart) => S::Starting,
        _ => return None,
    })
}

/// The user actions `state` allows (what a 409 response lists).
pub fn allowed_actions(state: InstanceState) -> Vec<Action> {
    USER_ACTIONS
        .into_iter()
        .filter(|a| transition(state, *a).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ALL_STATES {
            assert_eq!(InstanceState::parse(s.as_str()), Some(s));
        }
        assert_eq!(InstanceState::parse("bogus"), None);
    }

    #[test]
    fn the_seed_path_works() {
        let s = InstanceState::Starting;
        let s = transition(s, Action::Run).unwrap();
        assert_eq!(s, InstanceState::Running);
        let s = transition(s, Action::Pause).unwrap();
        assert_eq!(s, InstanceState::Paused);
        let s = transition(s, Action::Resume).unwrap();
        assert_eq!(s, InstanceState::Starting);
        let s = transition(s, Action::Stop).unwrap();
        assert_eq!(s, InstanceState::Terminated);
        assert_eq!(transition(s, Action::Delete), Some(InstanceState::Deleted));
        assert_eq!(transition(s, Action::Resume), None);
    }
}
