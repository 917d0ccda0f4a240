//! SARIF import: a scanner's report is hostile input; any bytes import into
//! findings or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phasegate::gates::security::sarif::import_sarif;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(findings) = import_sarif(text, "scanner.sarif") {
        for f in &findings {
            let _ = format!("{f:?}");
        }
    }
});
