//! Property tests of the instance state machine: the pure transition function, and the
//! store applying random action sequences on a real SQLite database, which must agree with
//! it step by step (state, recorded history, the job's active-instance slot).

use std::collections::HashSet;
use std::sync::OnceLock;

use proptest::prelude::*;
use stc_server::ServerError;
use stc_server::lifecycle::{
    ALL_ACTIONS, ALL_STATES, Action, InstanceState, USER_ACTIONS, allowed_actions, transition,
};
use stc_server::model::JobSettings;
use stc_server::store::{ActionExtras, Store};

fn action() -> impl Strategy<Value = Action> {
    proptest::sample::select(ALL_ACTIONS.to_vec())
}

#[test]
fn allowed_actions_are_exactly_the_legal_user_actions() {
    for s in ALL_STATES {
        let allowed: HashSet<Action> = allowed_actions(s).into_iter().collect();
        for a in USER_ACTIONS {
            assert_eq!(allowed.contains(&a), transition(s, a).is_some(), "{s} {a}");
        }
        assert!(
            transition(s, Action::Start).is_none(),
            "start never applies to an instance"
        );
    }
    assert!(allowed_actions(InstanceState::Deleted).is_empty());
}

proptest! {
    #[test]
    fn random_walks_keep_the_invariants(actions in proptest::collection::vec(action(), 0..40)) {
        let mut state = InstanceState::Starting;
        for a in actions {
            match transition(state, a) {
                Some(next) => {
                    // Only a worker event moves an instance into running or finished.
                    if matches!(next, InstanceState::Running | InstanceState::Finished) {
                        prop_assert!(!a.is_user_action(), "{a} -> {next}");
                    }
                    // A final state is left only by delete.
                    if !state.is_active() {
                        prop_assert_eq!(a, Action::Delete);
                    }
                    state = next;
                }
                None => prop_assert!(!allowed_actions(state).contains(&a)),
            }
            prop_assert!(state != InstanceState::Deleted || allowed_actions(state).is_empty());
            // From anywhere, stop and/or delete end the instance: no state is a trap.
            let end = transition(state, Action::Stop).unwrap_or(state);
            prop_assert!(state == InstanceState::Deleted || transition(end, Action::Delete).is_some());
        }
    }
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: Store,
    project: stc_server::model::Project,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(new_fixture)
}

fn new_fixture() -> Fixture {
    {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
        let (store, project) = runtime.block_on(async {
            let store = Store::connect(&url).await.unwrap();
            let admin = store.create_user("admin", "x", true).await.unwrap();
            let project = store.create_project("p", "", &admin).await.unwrap();
            (store, project)
        });
        Fixture {
            runtime,
            store,
            project,
            _dir: dir,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn the_store_applies_exactly_the_legal_transitions(
        actions in proptest::collection::vec(action(), 1..25)
    ) {
        let f = fixture();
        f.runtime.block_on(async {
            let name = format!("j{}", uuid::Uuid::new_v4().simple());
            let job = f.store.create_job(&f.project, &name, "-- no sql", &JobSettings::default()).await.unwrap();
            let instance = f.store.start_job(&job, "tester", None).await.unwrap();
            let mut model = InstanceState::Starting;
            let mut recorded = 1;
            for a in actions {
                let r = f.store.apply_action(&instance.id, a, "tester", None, ActionExtras::default()).await;
                match (transition(model, a), r) {
                    (Some(next), Ok(i)) => {
                        prop_assert_eq!(i.state, next);
                        model = next;
                        recorded += 1;
                    }
                    (None, Err(ServerError::IllegalTransition { state, allowed, .. })) => {
                        prop_assert_eq!(state, model);
                        prop_assert_eq!(allowed, allowed_actions(model));
                    }
                    (expected, got) => {
                        prop_assert!(false, "{model} {a}: model says {expected:?}, store says {got:?}");
                    }
                }
                let stored = f.store.get_instance(&instance.id).await.unwrap();
                prop_assert_eq!(stored.state, model);
                let job = f.store.get_job(&f.project, &name).await.unwrap();
                // The job's one active-instance slot is held exactly while the instance is active.
                prop_assert_eq!(job.active_instance_id.is_some(), model.is_active());
            }
            let history = f.store.transitions(&instance.id).await.unwrap();
            prop_assert_eq!(history.len(), recorded);
            prop_assert_eq!(history.last().unwrap().to, model);
            for pair in history.windows(2) {
                prop_assert_eq!(pair[1].from, Some(pair[0].to), "history is a chain");
            }
            Ok(())
        })?;
    }
}

/// The savepoint handshake of a pause: only an instance whose worker is up (a live lease) is
/// asked for one; a resume waits until the node has recorded it; the record is fenced by the
/// lease epoch and kept in the history.
#[test]
fn a_pause_waits_for_the_savepoint_of_a_running_worker() {
    // A store of its own: the scheduler calls below would seize other tests' instances.
    let f = &new_fixture();
    f.runtime.block_on(async {
        let s = &f.store;
        let job = s
            .create_job(&f.project, "sp", "-- no sql", &JobSettings::default())
            .await
            .unwrap();
        let pause = ActionExtras {
            savepoint_timeout_ms: Some(60_000),
            ..Default::default()
        };
        // Never seized: no worker, so no savepoint is asked for and resume is free.
        let i = s.start_job(&job, "tester", None).await.unwrap();
        let p = s
            .apply_action(&i.id, Action::Pause, "tester", None, pause.clone())
            .await
            .unwrap();
        assert!(!p.savepoint_in_progress);
        s.apply_action(
            &i.id,
            Action::Resume,
            "tester",
            None,
            ActionExtras::default(),
        )
        .await
        .unwrap();
        // Seized by a node: the pause asks that node for a savepoint.
        let seized = s.seize("n1", 60_000).await.unwrap().expect("seized");
        assert_eq!(seized.instance_id, i.id);
        let guard = stc_server::store::LeaseGuard {
            node: "n1".into(),
            epoch: seized.epoch,
        };
        let p = s
            .apply_action(&i.id, Action::Pause, "tester", None, pause.clone())
            .await
            .unwrap();
        assert!(p.savepoint_in_progress, "{p:?}");
        assert!(s.savepoint_requested(&i.id, seized.epoch).await.unwrap());
        assert!(
            !s.savepoint_requested(&i.id, seized.epoch + 1)
                .await
                .unwrap()
        );
        let early = s
            .apply_action(
                &i.id,
                Action::Resume,
                "tester",
                None,
                ActionExtras::default(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&early, ServerError::Conflict(m) if m.contains("still taking the savepoint")),
            "{early}"
        );
        // A stale epoch cannot record it; the holder can, once.
        let stale = stc_server::store::LeaseGuard {
            node: "n0".into(),
            epoch: seized.epoch - 1,
        };
        assert!(
            !s.record_savepoint(&i.id, &stale, Ok("/x/sp-0"))
                .await
                .unwrap()
        );
        assert!(
            s.record_savepoint(&i.id, &guard, Ok("/x/savepoint-7"))
                .await
                .unwrap()
        );
        assert!(
            !s.record_savepoint(&i.id, &guard, Ok("/x/savepoint-8"))
                .await
                .unwrap()
        );
        let p = s.get_instance(&i.id).await.unwrap();
        assert_eq!(p.savepoint_path.as_deref(), Some("/x/savepoint-7"));
        assert!(!p.savepoint_in_progress);
        let last = s.transitions(&i.id).await.unwrap().pop().unwrap();
        assert_eq!(
            (last.action, last.from, last.to, last.actor.as_str()),
            (
                Action::Pause,
                Some(InstanceState::Paused),
                InstanceState::Paused,
                "node:n1"
            )
        );
        assert_eq!(
            last.detail.as_deref(),
            Some("savepoint completed: /x/savepoint-7")
        );
        s.apply_action(
            &i.id,
            Action::Resume,
            "tester",
            None,
            ActionExtras::default(),
        )
        .await
        .unwrap();
        // A failed savepoint keeps the previous path and says why.
        let seized = s.seize("n1", 60_000).await.unwrap().expect("seized again");
        let guard = stc_server::store::LeaseGuard {
            node: "n1".into(),
            epoch: seized.epoch,
        };
        s.apply_action(&i.id, Action::Stop, "tester", None, pause)
            .await
            .unwrap();
        assert!(
            s.record_savepoint(&i.id, &guard, Err("disk full"))
                .await
                .unwrap()
        );
        let t = s.get_instance(&i.id).await.unwrap();
        assert_eq!(t.state, InstanceState::Terminated);
        assert_eq!(t.savepoint_path.as_deref(), Some("/x/savepoint-7"));
        let last = s.transitions(&i.id).await.unwrap().pop().unwrap();
        assert_eq!(last.detail.as_deref(), Some("no savepoint: disk full"));
    });
}
