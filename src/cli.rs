//! Command-line definitions (clap derive). Parsing only: each command is
//! turned into a request and handed to `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "phasegate",
    version,
    about = "Runs infrastructure changes through GitHub Actions in gated, journaled phases",
    after_help = "Exit codes: 0 success, 1 a gate or check said no, 2 bad input or usage, 3 an external failure (IaC tool, network, API)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Config file; default phasegate.yml in the current directory or the git root.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Change plan file (phases, acknowledgements, allow_destroy).
    #[arg(long, global = true, value_name = "FILE")]
    pub change: Option<PathBuf>,
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the config and change plan; exit 2 naming file, line and field when wrong.
    Validate(ValidateArgs),
    /// Print the JSON Schemas of the config and the change plan.
    Schema(SchemaArgs),
    /// Plan one phase (or render a given plan JSON), run the gates, write and post the results.
    Plan(PlanArgs),
    /// Render one plan JSON with no side effects.
    Render(RenderArgs),
    /// Run one gate over a phase's plan.
    Gate(GateArgs),
    /// Inspect or configure the GitHub environments that gate applies.
    Environments(EnvironmentsArgs),
    /// The pre-apply approval check.
    Approvals(ApprovalsArgs),
    /// Record a fallback approval from a `/phasegate approve <env> <digest>` PR comment, or with --local an approval in a local store.
    Approve(ApproveArgs),
    /// Maintain the price book from the providers' machine-readable price lists.
    Prices(PricesArgs),
    /// Detect root modules and environments; write phasegate.yml and the GitHub workflows.
    Init(InitArgs),
    /// Check that the workflows on disk still enforce the promotion chain.
    Workflows(WorkflowsArgs),
    /// The changed projects between two commits, as a GitHub Actions matrix.
    Matrix(MatrixArgs),
    /// Check the engine, token, environments and workflows; say how to fix each failure.
    Doctor(DoctorArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Where the change stands, folded from the journal, and the next step to run.
    Status(StatusArgs),
    /// Check a change's journal: its hash chain, a torn last line, and in the `github` store the ref's history and witness.
    Journal(JournalArgs),
    /// Apply exactly the reviewed plan of one phase: checkpoint, lock, apply, journal.
    Apply(ApplyArgs),
    /// Run a phase's operation steps (preview shown at plan time, approved with the phase): execute, poll, verify; or retry, roll back or abort a failed one.
    Steps(StepsArgs),
    /// Release a lock on an environment and project, recording who and why.
    Unlock(UnlockArgs),
    /// Work with Rego policies (the policy gate's).
    Policy(PolicyCommandArgs),
    /// Review an applied and verified phase: pass, warn or needs-fixes, and its report.
    Review(ReviewArgs),
    /// Roll a phase back: plan its base commit against the current state (or restore the checkpoint).
    Rollback(RollbackArgs),
    /// Find changes made outside Terraform in one environment; open, update or close a drift issue per project.
    Drift(DriftArgs),
    /// Run a phase's verification checks after its apply; journal every check's evidence.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which schema; both when omitted.
    #[arg(value_enum)]
    pub which: Option<SchemaKind>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaKind {
    Config,
    Change,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
    Markdown,
}

/// Selects one phase of the change.
#[derive(Debug, Args, Clone, Default)]
pub struct PhaseSelector {
    /// Phase number (1-based) or name.
    #[arg(long, value_name = "N")]
    pub phase: Option<String>,
    /// Environment name; picks the phase targeting it.
    #[arg(long, value_name = "E")]
    pub env: Option<String>,
    /// Limit to one project.
    #[arg(long, value_name = "P")]
    pub project: Option<String>,
}

/// Inputs shared by `plan` and `gate`.
#[derive(Debug, Args, Clone, Default)]
pub struct GateInputs {
    /// Usage file for usage-based costs.
    #[arg(long, value_name = "FILE")]
    pub usage: Option<PathBuf>,
    /// Merge findings from a Checkov, Trivy or tfsec SARIF file (repeatable).
    #[arg(long = "sarif-in", value_name = "FILE")]
    pub sarif_in: Vec<PathBuf>,
    /// Write the security findings as SARIF 2.1.0.
    #[arg(long = "sarif-out", value_name = "FILE")]
    pub sarif_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub select: PhaseSelector,
    /// Use this `terraform show -json` output instead of running the engine.
    #[arg(long = "plan-json", value_name = "FILE")]
    pub plan_json: Option<PathBuf>,
    /// Output directory; default from config, else .phasegate.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub gates: GateInputs,
    /// Never post to GitHub, even in a pull-request workflow.
    #[arg(long)]
    pub no_post: bool,
    /// GitHub token; default GITHUB_TOKEN. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RenderFormat {
    #[default]
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The `terraform show -json` output to render.
    #[arg(long = "plan-json", value_name = "FILE")]
    pub plan_json: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub format: RenderFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GateKind {
    Security,
    Cost,
    Blast,
    /// The team's Rego (OPA / conftest) policies.
    Policy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum GateFormat {
    #[default]
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    #[arg(value_enum)]
    pub gate: GateKind,
    #[command(flatten)]
    pub select: PhaseSelector,
    #[arg(long = "plan-json", value_name = "FILE")]
    pub plan_json: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: GateFormat,
    #[command(flatten)]
    pub gates: GateInputs,
    #[command(flatten)]
    pub policy: PolicyInputs,
}

#[derive(Debug, Args)]
pub struct EnvironmentsArgs {
    #[command(subcommand)]
    pub action: EnvironmentsAction,
    /// GitHub token; default GITHUB_TOKEN. `sync` needs an admin token.
    #[arg(long, global = true, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EnvironmentsAction {
    /// Report each environment's protection; exit 1 when mandatory reviewers are missing.
    Check,
    /// Create or update environments to match the config.
    Sync,
}

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    pub action: ApprovalsAction,
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsAction {
    /// Refuse (exit 1) unless this environment's apply is properly approved.
    Check {
        #[arg(long, value_name = "E")]
        env: String,
        /// The plan digest the approval must name.
        #[arg(long, value_name = "D")]
        digest: Option<String>,
        #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Record an approval in a local store, outside GitHub (with --env, --digest and --as).
    #[arg(long, requires_all = ["env", "digest", "approver"])]
    pub local: bool,
    /// The environment approved (with --local).
    #[arg(long, value_name = "ENV", requires = "local")]
    pub env: Option<String>,
    /// The plan digest approved, or its first 12 or more characters (with --local).
    #[arg(long, value_name = "DIGEST", requires = "local")]
    pub digest: Option<String>,
    /// Who approves (with --local).
    #[arg(long = "as", value_name = "NAME", requires = "local")]
    pub approver: Option<String>,
}

#[derive(Debug, Args)]
pub struct PricesArgs {
    #[command(subcommand)]
    pub action: PricesAction,
}

#[derive(Debug, Subcommand)]
pub enum PricesAction {
    /// Read price-list files (downloaded beforehand) into a price-book YAML file.
    Import(PricesImportArgs),
}

#[derive(Debug, Args)]
pub struct PricesImportArgs {
    /// Format of the files: an AWS offer file, an Azure Retail Prices API page, or a Google Cloud Billing Catalog SKU list.
    #[arg(long, value_enum)]
    pub format: PriceListFormat,
    /// The book to merge into and rewrite (for example prices/aws.yaml); created when missing.
    #[arg(long, value_name = "FILE")]
    pub book: PathBuf,
    /// The day the files were downloaded (YYYY-MM-DD), recorded as the date for formats without a publication date; default today.
    #[arg(long, value_name = "DATE")]
    pub fetched: Option<String>,
    /// Price-list files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PriceListFormat {
    AwsOffer,
    AzureRetail,
    GoogleSkus,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Repository root to scan; default the current directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite an existing phasegate.yml and workflows.
    #[arg(long)]
    pub force: bool,
    /// The phasegate action pinned by full commit SHA (`owner/repo@<40-hex sha>`);
    /// default the release this binary was built from. Required for a local build.
    #[arg(long, value_name = "REF")]
    pub action: Option<String>,
    /// Promotion mode of the generated workflows.
    #[arg(long, value_enum, default_value_t)]
    pub mode: InitMode,
    /// Print what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// `json`: one JSON object on stdout (what was found, what is written).
    #[arg(long, value_enum, default_value_t)]
    pub format: ResultFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum InitMode {
    #[default]
    ApplyAfterMerge,
    ApplyBeforeMerge,
}

#[derive(Debug, Args)]
pub struct WorkflowsArgs {
    #[command(subcommand)]
    pub action: WorkflowsAction,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowsAction {
    /// Exit 1 when a workflow no longer enforces the chain; report drift from the config.
    Check {
        /// Workflow directory; default .github/workflows at the repository root.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Also exit 1 when the workflows drifted from what the config generates.
        #[arg(long)]
        strict: bool,
        /// `json`: one JSON object on stdout with every finding.
        #[arg(long, value_enum, default_value_t)]
        format: ResultFormat,
    },
    /// Write the workflows the config generates (after editing it: `depends_on`, environments), leaving the config as it is.
    Generate {
        /// Workflow directory; default .github/workflows at the repository root.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum MatrixFormat {
    #[default]
    Text,
    /// The matrix: `{"include":[{"project":"app"}, ...]}`.
    Json,
    /// Each environment's matrix: `{"dev":{"include":[...]}, ...}`.
    ByEnvJson,
    /// Each environment's matrices by dependency level: `{"dev":[{"include":[...]}, ...], ...}`.
    ByLevelJson,
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Base commit; default the PR base (or the push's `before`) from the event,
    /// else where HEAD left the default branch (`git merge-base`).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Head commit; default the PR head (or the push's `after`), else HEAD.
    #[arg(long, value_name = "REF")]
    pub head: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: MatrixFormat,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// GitHub token; default GITHUB_TOKEN. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// `json`: one JSON object on stdout, one entry per check.
    #[arg(long, value_enum, default_value_t)]
    pub format: ResultFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    #[command(subcommand)]
    pub action: JournalAction,
}

#[derive(Debug, Subcommand)]
pub enum JournalAction {
    /// Print the chain's state (events, head, first broken link, torn last line); exit 0 intact, 1 broken.
    Verify(JournalVerifyArgs),
}

#[derive(Debug, Args)]
pub struct JournalVerifyArgs {
    /// The change id; default the current one (the change plan's, else `PR-<n>`, else `local`).
    #[arg(long, value_name = "ID")]
    pub change_id: Option<String>,
    /// `github` store: how many of the ref's newest commits to read back (three reads each).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub depth: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: ResultFormat,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub select: PhaseSelector,
    /// Output directory (checkpoints, plans); default from config, else .phasegate.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// GitHub token; default GITHUB_TOKEN. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// After an interrupted apply: plan again and apply the fresh plan only when its digest
    /// equals the approved one.
    #[arg(long, conflicts_with = "abort")]
    pub retry: bool,
    /// After an interrupted apply: journal the abort and release the lock; nothing is applied.
    #[arg(long)]
    pub abort: bool,
}

#[derive(Debug, Args)]
pub struct StepsArgs {
    #[command(flatten)]
    pub select: PhaseSelector,
    /// Output directory (step logs under `steps/`); default from config, else .phasegate.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// GitHub token; default GITHUB_TOKEN. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Run the failed step ID again (at most 3 times).
    #[arg(long, value_name = "ID", conflicts_with_all = ["rollback", "abort"])]
    pub retry: Option<String>,
    /// Run the rollback command of step ID.
    #[arg(long, value_name = "ID", conflicts_with = "abort")]
    pub rollback: Option<String>,
    /// Give step ID up; the phase then needs a new plan.
    #[arg(long, value_name = "ID")]
    pub abort: Option<String>,
    /// How long this job may run steps (`30s`, `45m`, `5h`): a poll that would outlast it is
    /// journaled as waiting and continued by the next run. Default 330m, inside GitHub's
    /// 6-hour job limit.
    #[arg(
        long,
        value_name = "DURATION",
        env = "PHASEGATE_STEPS_JOB_TIME",
        default_value = "330m"
    )]
    pub job_time: String,
    /// Only continue a step a previous job left waiting (a poll past its job's time) or
    /// cut off mid-step; start nothing new. What the continuation workflow runs.
    #[arg(long, conflicts_with_all = ["retry", "rollback", "abort"])]
    pub waiting: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: String,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[arg(long, value_name = "E")]
    pub env: String,
    #[arg(long, value_name = "P")]
    pub project: String,
    /// Why the lock is released; journaled with who released it.
    #[arg(long)]
    pub reason: String,
}
/// `gate policy` without a config, as `conftest test` takes them.
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyInputs {
    /// A directory (or file) of `.rego` policies (repeatable); replaces the config's `policies:`.
    #[arg(long = "policy", value_name = "DIR")]
    pub policy: Vec<PathBuf>,
    /// JSON or YAML data for the policies (repeatable).
    #[arg(long = "data", value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// A package whose rules count (repeatable); default `main`.
    #[arg(long = "namespace", value_name = "N")]
    pub namespace: Vec<String>,
    /// Every package counts.
    #[arg(long = "all-namespaces")]
    pub all_namespaces: bool,
    /// Stop a policy that runs longer than this, in milliseconds.
    #[arg(long = "timeout-ms", value_name = "MS")]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct PolicyCommandArgs {
    #[command(subcommand)]
    pub action: PolicyAction,
}

#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Run the policies' own `test_` rules, as `opa test` does; exit 1 when one fails.
    Test {
        /// Directories (or files) of `.rego` policies and their tests.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// JSON or YAML data for the policies (repeatable).
        #[arg(long = "data", value_name = "FILE")]
        data: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: GateFormat,
    },
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub select: PhaseSelector,
    /// Output directory (reports/); default from config, else .phasegate.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// GitHub token; default GITHUB_TOKEN. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub select: PhaseSelector,
    /// Output directory (verification plans); default from config, else .phasegate.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// GitHub token; default GITHUB_TOKEN. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub select: PhaseSelector,
    /// The commit whose configuration the revert plan uses; default the pull request's base sha.
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Apply the revert plan journaled by an earlier `rollback` (gated and approved like any plan).
    #[arg(long, conflicts_with = "restore_state")]
    pub apply: bool,
    /// Push the checkpoint taken before the phase's apply back as the state.
    #[arg(long)]
    pub restore_state: bool,
    /// Confirms --restore-state: the state is replaced; resources created since stay in the cloud.
    #[arg(long, requires = "restore_state")]
    pub confirm_restore: bool,
    /// Output directory; default from config, else .phasegate.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// GitHub token; default GITHUB_TOKEN. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The environment to check.
    #[arg(long, value_name = "E")]
    pub env: String,
    /// Only this project.
    #[arg(long, value_name = "P", conflicts_with = "all")]
    pub project: Option<String>,
    /// Every project (the default when --project is not given).
    #[arg(long)]
    pub all: bool,
    /// `json`: one JSON object on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Do not open, update or close GitHub issues.
    #[arg(long)]
    pub no_issues: bool,
    /// GitHub token; default GITHUB_TOKEN. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// How a command prints its result: lines for people, or one JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ResultFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// `json`: one JSON object on stdout (the config, the change and the phases).
    #[arg(long, value_enum, default_value_t)]
    pub format: ResultFormat,
}
