//! Config and change-plan loading: any text is a config, a change plan, or
//! a typed error naming where it went wrong; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phasegate::config::{load_change_plan_str, load_config_str, resolve_phases};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = load_config_str(text, "phasegate.yml");
    let change = load_change_plan_str(text, "change.yml");
    if let Ok(config) = &config {
        let _ = resolve_phases(config, change.as_ref().ok());
    }
    if let Err(e) = config {
        let _ = e.to_string();
    }
});
