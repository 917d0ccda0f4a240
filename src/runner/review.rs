//! `phasegate review --phase N`: judge an applied and verified phase
//! (`pass`, `warn` or `needs-fixes`), write `reports/phase-N.json` (and, for
//! the last phase, the change report in JSON and markdown), journal the
//! verdict, and show it in the PR comment. Exit 0 for pass or warn, 1 for
//! needs-fixes or a missing prerequisite.

use std::path::Path;

use serde_json::Value;

use crate::ci::ActionsContext;
use crate::cli::{GlobalArgs, OutputFormat, ReviewArgs};
use crate::config::ResolvedPhase;
use crate::error::{Error, ExitCode, Result};
use crate::journal::{fold, ErrorClass, EventKind, PhaseProgress, ReviewVerdict, Step};
use crate::phase::{decide, Action, Decision, Request};
use crate::report::{build_change_report, build_phase_report, judge, CostFigure, Judgement};
use crate::runner::output::{print_stdout, OutputSet};
use crate::runner::session::{self as runner, Runner, Writer};
use crate::runner::workspace::Workspace;
use crate::store::Store;

pub fn run(global: &GlobalArgs, args: ReviewArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let actions = ActionsContext::from_process_env()?;
    let phase = ws
        .select(&args.select)?
        .ok_or_else(|| Error::Input("review needs a config".into()))?;
    let runner = Runner::open(&ws, actions.as_ref(), args.token.clone())?;
    let writer = runner.writer(&ws, actions.as_ref());
    let out_dir = runner::absolute(&ws.out_dir(args.out.as_deref()))?;
    if let Some(project) = &args.select.project {
        // One job per project runs `review --project P` after its own verify;
        // the phase is reviewed by whichever is verified last.
        let progress = runner
            .rt
            .block_on(runner::progress(&runner.store, &ws, &writer.change))?;
        if let Some(why) = crate::phase::review_waits_for(&progress, &phase.name, project) {
            let text = format!(
                "review of phase {}: {project} is ready; the phase is reviewed by the job of the project verified last ({why})",
                phase.name
            );
            print_stdout(&match args.format {
                OutputFormat::Json => serde_json::to_string_pretty(&serde_json::json!({
                    "phase": phase.name, "result": "waiting", "project": project, "waits_for": why,
                }))
                .unwrap_or_default(),
                _ => text,
            });
            return Ok(ExitCode::Success);
        }
    }
    let outcome =
        runner
            .rt
            .block_on(review_phase(&runner.store, &ws, &phase, &writer, &out_dir))?;
    if let (Some(client), Some(target), Some(report)) =
        (runner.forge(), &runner.pr, &outcome.markdown)
    {
        runner.rt.block_on(post_review(
            client,
            target,
            &ws,
            &writer.change,
            &phase.environment.name,
            report,
        ))?;
    }
    print_stdout(&match args.format {
        OutputFormat::Json => serde_json::to_string_pretty(&outcome.json).unwrap_or_default(),
        _ => outcome.text.clone(),
    });
    Ok(outcome.code)
}

/// What one review did.
pub struct ReviewOutcome {
    pub code: ExitCode,
    pub text: String,
    pub json: Value,
    /// The comment block, when a report was written.
    pub markdown: Option<String>,
}

/// Reviews `phase` from the journal in `store`; writes the reports under
/// `out_dir` before the verdict is journaled, so the journal never names a
/// report that is not there.
pub async fn review_phase<S: Store>(
    store: &S,
    ws: &Workspace,
    phase: &ResolvedPhase,
    writer: &Writer,
    out_dir: &Path,
) -> Result<ReviewOutcome> {
    let change = writer.change.as_str();
    let events = runner::read_journal(store, change).await?;
    let all = runner::all_phases(ws);
    let progress = fold(change, &runner::phase_refs(&all), &events);
    let req = Request {
        action: Action::Review,
        phase: &phase.name,
        project: "",
    };
    if let Decision::Refuse(m) = decide(&progress, &req) {
        let e = writer.event(
            &phase.name,
            None,
            Step::Review,
            None,
            EventKind::Refusal {
                what: m.what.to_string(),
                why: m.why.clone(),
                command: Some(m.command.clone()),
            },
        );
        runner::append(store, change, &[e]).await?;
        return Ok(ReviewOutcome {
            code: ExitCode::Refused,
            text: format!(
                "review of phase {}: refused: {}\n  next: {}",
                phase.name, m.why, m.command
            ),
            json: serde_json::json!({
                "phase": phase.name, "result": "refused", "what": m.what,
                "why": m.why, "command": m.command,
            }),
            markdown: None,
        });
    }
    let view = progress.phase(&phase.name).expect("decide found the phase");
    let judgement = judge(view);
    let now = runner::now();
    let report = build_phase_report(
        change,
        view,
        &events,
        &judgement,
        cost_figure(out_dir, view),
        &now,
    );
    let relative = format!("reports/phase-{}.json", phase.index);
    let mut files = OutputSet::new();
    files.add(&relative, pretty(&report)?);
    // The change ends with the last phase it touches.
    let in_change = || progress.phases.iter().filter(|q| q.in_change());
    let last = in_change().map(|p| p.index).max().unwrap_or(0) <= phase.index;
    let mut change_md = None;
    if last {
        let mut reports = vec![];
        for q in in_change().filter(|q| q.index < phase.index) {
            let j = recorded(q);
            reports.push(build_phase_report(
                change,
                q,
                &events,
                &j,
                cost_figure(out_dir, q),
                &now,
            ));
        }
        reports.push(report.clone());
        let change_report = build_change_report(change, &reports, &now);
        files.add("reports/change.json", pretty(&change_report)?);
        let md = crate::render::review::change_markdown(&change_report);
        files.add("reports/change.md", md.clone());
        change_md = Some(md);
    }
    files.write_all(out_dir)?;
    let report_path = out_dir.join(&relative).display().to_string();
    let digest = view.digest.as_deref();
    let mut journaled = vec![writer.event(
        &phase.name,
        None,
        Step::Review,
        digest,
        EventKind::Reviewed {
            verdict: judgement.verdict,
            reasons: judgement.reasons.clone(),
            report: Some(report_path.clone()),
        },
    )];
    journaled.push(writer.event(
        &phase.name,
        None,
        Step::Review,
        digest,
        match judgement.verdict {
            ReviewVerdict::NeedsFixes => EventKind::StepFailed {
                error: format!("review: needs-fixes: {}", judgement.reasons.join("; ")),
                class: ErrorClass::Validation,
            },
            _ => EventKind::StepSucceeded { plan: None },
        },
    ));
    runner::append(store, change, &journaled).await?;

    let mut text = vec![format!(
        "review of phase {} ({}): {}",
        phase.name,
        phase.environment.name,
        judgement.verdict.as_str()
    )];
    text.extend(judgement.reasons.iter().map(|r| format!("  {r}")));
    text.push(format!("report: {report_path}"));
    if last {
        text.push(format!(
            "change report: {}",
            out_dir.join("reports/change.md").display()
        ));
    }
    Ok(ReviewOutcome {
        code: if judgement.verdict.lets_through() {
            ExitCode::Success
        } else {
            ExitCode::Refused
        },
        text: text.join("\n"),
        json: serde_json::json!({
            "phase": phase.name,
            "result": "reviewed",
            "verdict": judgement.verdict,
            "reasons": judgement.reasons,
            "report": report_path,
            "change_report": last.then(|| out_dir.join("reports/change.json")),
            "concerns": judgement.concerns,
        }),
        markdown: Some(comment_markdown(
            &crate::render::review::phase_markdown(&report),
            change_md.as_deref(),
        )),
    })
}

/// The review block of the comment: the phase's review and, after the last
/// phase, the change report under it. In Actions the report files stay in
/// the review job's workspace, so the comment is where people read it; its
/// `# Change <id>` title is left out (the comment's own heading names the
/// change).
fn comment_markdown(phase: &str, change: Option<&str>) -> String {
    match change {
        None => phase.to_string(),
        Some(report) => {
            let body = report
                .split_once('\n')
                .map_or(report, |(_, rest)| rest)
                .trim_start();
            format!("{phase}\n\n#### Change report\n\n{body}")
        }
    }
}

/// An earlier phase's journaled verdict, with its concerns weighed again
/// for the report; judged now only when it was never reviewed.
fn recorded(q: &PhaseProgress) -> Judgement {
    let mut j = judge(q);
    if let Some(r) = &q.review {
        j.verdict = r.verdict;
        j.reasons = r.reasons.clone();
    }
    j
}

fn pretty<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| Error::External(format!("serializing a report: {e}")))
}

/// The phase's monthly cost from the cost gate's result that `plan` wrote
/// (`phases/<name>.json`), only when that result is of the plans the journal
/// holds; otherwise unknown, saying why.
fn cost_figure(out_dir: &Path, phase: &PhaseProgress) -> CostFigure {
    let path = crate::runner::gating::phase_result_path(out_dir, &phase.name);
    let unknown = |why: String| CostFigure {
        source: format!("unknown: {why}"),
        ..CostFigure::default()
    };
    let Some(v) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    else {
        return unknown(format!("no plan result at {}", path.display()));
    };
    let same_plans = phase.projects.iter().all(|p| {
        v["projects"].as_array().is_some_and(|list| {
            list.iter().any(|x| {
                x["name"] == p.project.as_str() && x["digest"].as_str() == p.digest.as_deref()
            })
        })
    });
    if !same_plans {
        return unknown(format!(
            "{} is of another plan than the journal's",
            path.display()
        ));
    }
    let cost = &v["gates"]["cost"];
    let Some(delta) = cost["monthly_delta"].as_f64() else {
        return unknown("the cost gate did not run for this plan".into());
    };
    CostFigure {
        monthly_delta: Some(delta),
        monthly_after: cost["monthly_after"].as_f64(),
        currency: cost["currency"].as_str().map(str::to_string),
        lower_bound: cost["lower_bound"].as_bool().unwrap_or(true),
        source: format!("the cost gate's result for this plan ({})", path.display()),
    }
}

/// Writes `markdown` as `env`'s review block of the change's sticky comment,
/// after that environment's plan, approval and journal blocks.
pub async fn post_review<F: crate::github::Forge>(
    forge: &F,
    target: &crate::github::PrTarget,
    ws: &Workspace,
    change: &str,
    env: &str,
    markdown: &str,
) -> Result<()> {
    crate::github::upsert_phase(
        forge,
        target,
        change,
        &review_key(env),
        &comment_order(ws),
        |budget| markdown.chars().take(budget).collect(),
        |_| {},
    )
    .await?;
    Ok(())
}

/// Every block key of the sticky comment in promotion order: per
/// environment its plan, approval, journal, review and rollback blocks.
pub fn comment_order(ws: &Workspace) -> Vec<String> {
    crate::runner::post::block_order(ws)
        .into_iter()
        .flat_map(|k| {
            let env = k.strip_suffix("-progress").map(str::to_string);
            let mut keys = vec![k];
            if let Some(env) = env {
                keys.push(review_key(&env));
                keys.push(format!("{env}-rollback"));
            }
            keys
        })
        .collect()
}

/// The comment key of a phase's review block.
pub fn review_key(env: &str) -> String {
    format!("{env}-review")
}
