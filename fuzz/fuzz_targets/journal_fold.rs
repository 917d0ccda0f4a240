//! Journal folding: any journal bytes either parse into events or name the
//! bad line; every prefix of the events folds into a progress view over the
//! configured phases without a panic, and folding is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phasegate::journal::{fold, parse_lines, PhaseRef};

fn phases() -> Vec<PhaseRef> {
    ["dev", "staging", "prod"]
        .iter()
        .enumerate()
        .map(|(i, n)| PhaseRef {
            index: i + 1,
            name: n.to_string(),
            environment: n.to_string(),
            projects: vec!["app".into(), "net".into()],
            approval_required: *n == "prod",
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(events) = parse_lines(data) else {
        return;
    };
    let phases = phases();
    for end in 0..=events.len() {
        let progress = fold("CHG-1", &phases, &events[..end]);
        assert_eq!(progress.phases.len(), phases.len());
        for (view, phase) in progress.phases.iter().zip(&phases) {
            assert_eq!(view.name, phase.name);
            // The configured projects come first, in order; a journal may
            // name more (a project since removed from the config).
            let names: Vec<&str> = view.projects.iter().map(|p| p.project.as_str()).collect();
            assert!(names.len() >= phase.projects.len());
            assert_eq!(
                &names[..phase.projects.len()],
                &phase
                    .projects
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()[..]
            );
        }
    }
    let a = fold("CHG-1", &phases, &events);
    let b = fold("CHG-1", &phases, &events);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
});
