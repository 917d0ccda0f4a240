//! Plan JSON parsing and normalization: any bytes either parse into a change
//! set or are refused with a typed error; never a panic. A parsed change set
//! must also survive what every command does next (digest, grouping, counts).
#![no_main]

use libfuzzer_sys::fuzz_target;
use phasegate::plan::group::group_changes;
use phasegate::plan::parse_plan_json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(changes) = parse_plan_json(text, "fuzz.json") {
        assert_eq!(changes.digest.len(), 64, "a digest is sha256 hex");
        let again = parse_plan_json(text, "fuzz.json").expect("parsing is deterministic");
        assert_eq!(again.digest, changes.digest, "the digest is deterministic");
        let groups = group_changes(&changes);
        let grouped: usize = groups.iter().map(|g| g.members.len()).sum();
        assert!(grouped <= changes.resources.len());
    }
});
