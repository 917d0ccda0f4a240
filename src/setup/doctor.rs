//! `phasegate doctor`: checks what a run needs before it starts (the engine
//! binary and version, the token, the environments' protection, the
//! workflows in sync, the current change's journal intact) and prints a fix
//! for each failure.

use crate::cli::{DoctorArgs, GlobalArgs, ResultFormat};
use crate::error::{ExitCode, Result};
use crate::github::environments::check_environments;
use crate::github::Forge;
use crate::iac::{CliEngine, IacEngine};
use crate::runner::forge;
use crate::runner::output::{print_json, print_stdout};
use crate::runner::workspace::Workspace;
use crate::scan::repo_root;
use crate::setup::environments::{repository, requirements};
use crate::setup::workflows::check_dir;
use crate::workflows::generate::{action_ref, pin_problem, WORKFLOW_DIR};

/// One line of the report.
struct Item {
    ok: bool,
    what: String,
    fix: Option<String>,
}

pub fn run(global: &GlobalArgs, args: DoctorArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let (config, config_path) = ws.required_config();
    let mut items = vec![Item {
        ok: true,
        what: format!("config {} is valid", config_path.display()),
        fix: None,
    }];

    let engine = CliEngine::from_config(&config.engine, &ws.base_dir);
    items.push(match engine.version(&ws.base_dir) {
        Ok(v) => Item {
            ok: true,
            what: format!("engine {} {}", engine.binary.display(), v.version),
            fix: None,
        },
        Err(e) => Item {
            ok: false,
            what: format!("engine {}: {e}", engine.binary.display()),
            fix: Some("install it, or set engine.binary in phasegate.yml to its path".into()),
        },
    });

    items.push(action_item(config));
    let root = repo_root(&ws.base_dir);
    let dir = root.join(WORKFLOW_DIR);
    items.push(match check_dir(config, config_path, &root, &dir) {
        Ok(findings) if findings.is_empty() => Item {
            ok: true,
            what: format!("workflows in {} enforce the chain and match the config", dir.display()),
            fix: None,
        },
        Ok(findings) => Item {
            ok: false,
            what: format!(
                "workflows: {}",
                findings.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; ")
            ),
            fix: Some("run `phasegate workflows check` for details; `phasegate init --force` regenerates them".into()),
        },
        Err(e) => Item {
            ok: false,
            what: format!("workflows: {e}"),
            fix: Some("run `phasegate init` to write them".into()),
        },
    });

    items.push(journal_item(&ws, args.token.clone()));
    items.extend(github_items(config, args.token));

    let failed = items.iter().filter(|i| !i.ok).count();
    if args.format == ResultFormat::Json {
        print_json(&serde_json::json!({
            "ok": failed == 0,
            "failed": failed,
            "checks": items.iter().map(|i| serde_json::json!({
                "ok": i.ok,
                "what": i.what,
                "fix": i.fix,
            })).collect::<Vec<_>>(),
        }));
        return Ok(if failed == 0 {
            ExitCode::Success
        } else {
            ExitCode::Refused
        });
    }
    let mut lines: Vec<String> = Vec::new();
    for i in &items {
        lines.push(format!("{} {}", if i.ok { "ok  " } else { "FAIL" }, i.what));
        if let Some(fix) = &i.fix {
            lines.push(format!("     fix: {fix}"));
        }
    }
    lines.push(format!("{failed} check(s) failed"));
    print_stdout(&lines.join("\n"));
    Ok(if failed == 0 {
        ExitCode::Success
    } else {
        ExitCode::Refused
    })
}

/// The current change's journal, as `phasegate journal verify` checks it.
fn journal_item(ws: &Workspace, token: Option<String>) -> Item {
    match crate::runner::journal::doctor_check(ws, token.filter(|t| !t.is_empty())) {
        Ok(report) if report.intact() => Item {
            ok: true,
            what: report.summary(),
            fix: None,
        },
        Ok(report) => Item {
            ok: false,
            what: report.summary(),
            fix: Some("`phasegate journal verify` shows the chain and the first broken link; docs/journal.md says how to restore the journal".into()),
        },
        Err(e) => Item {
            ok: false,
            what: format!("journal: cannot be read: {e}"),
            fix: Some("check the store (`store:` in phasegate.yml, PHASEGATE_STORE_DIR, or the token for the `github` store)".into()),
        },
    }
}

/// The phasegate action the workflows install: pinned to a real commit.
fn action_item(config: &crate::config::Config) -> Item {
    match action_ref(config) {
        None => Item {
            ok: false,
            what: "workflows.action: not set, and this is a local build with no release to pin".into(),
            fix: Some("set `workflows.action: owner/phasegate@<40-hex commit>` in phasegate.yml, or `phasegate init --force --action owner/phasegate@<40-hex commit>`".into()),
        },
        Some(action) => match pin_problem(action) {
            None => Item {
                ok: true,
                what: format!("workflows use the phasegate action {action}"),
                fix: None,
            },
            Some(problem) => Item {
                ok: false,
                what: format!("workflows.action: {problem}"),
                fix: Some("`phasegate init --force --action owner/phasegate@<40-hex commit>`".into()),
            },
        },
    }
}

/// The token and the environments, when a token and repository are known.
/// GitHub does not report an Actions token's scopes, so the token is probed
/// with the reads phasegate makes.
fn github_items(config: &crate::config::Config, token: Option<String>) -> Vec<Item> {
    let fail = |what: String, fix: &str| Item {
        ok: false,
        what,
        fix: Some(fix.into()),
    };
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return vec![fail(
            "token: none (GITHUB_TOKEN unset, no --token)".into(),
            "in Actions pass `token: ${{ github.token }}`; locally export GITHUB_TOKEN",
        )];
    };
    let repo = match repository() {
        Ok(r) => r,
        Err(e) => {
            return vec![fail(
                format!("repository: {e}"),
                "export GITHUB_REPOSITORY=owner/name",
            )]
        }
    };
    let (rt, client) = match forge::connect(Some(token)) {
        Ok(c) => c,
        Err(e) => return vec![fail(format!("GitHub client: {e}"), "check GITHUB_API_URL")],
    };
    let mut items = Vec::new();
    items.push(match rt.block_on(client.identity()) {
        Ok(id) => Item {
            ok: true,
            what: format!("token acts as {}", id.login),
            fix: None,
        },
        Err(e) => fail(
            format!("token identity: {e}"),
            "the token is invalid or expired; in Actions use `${{ github.token }}`",
        ),
    });
    let reqs = requirements(config);
    match rt.block_on(check_environments(&client, &repo, &reqs)) {
        Ok(reports) => {
            for r in reports {
                items.push(if r.ok() {
                    Item {
                        ok: true,
                        what: format!("environment {} ({}) protected as configured", r.name, r.github_environment),
                        fix: None,
                    }
                } else {
                    fail(
                        format!("environment {} ({}): {}", r.name, r.github_environment, r.problems.join("; ")),
                        "add reviewers in phasegate.yml and run `phasegate environments sync --token <admin token>`",
                    )
                });
            }
        }
        Err(e) => items.push(fail(
            format!("environments: cannot read them: {e}"),
            "the token needs `actions: read` (job permissions) or repository admin for environments",
        )),
    }
    items
}
