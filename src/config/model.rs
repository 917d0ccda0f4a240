//! The versioned config (`phasegate.yml`) and change plan types.
//! Both schemas in `schemas/` are generated from these types.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The IaC engine that plans and applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    #[default]
    Terraform,
    Tofu,
    Terragrunt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    #[serde(default)]
    pub kind: EngineKind,
    /// Path to the engine binary; defaults to the kind's name on PATH.
    #[serde(default)]
    pub binary: Option<PathBuf>,
    /// Time limit for one engine command, in seconds.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// How strict the security gate is in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum SecurityPolicy {
    /// Critical blocks, high needs an acknowledgement, medium and low are reported.
    #[default]
    Standard,
    /// Additionally, medium findings need an acknowledgement.
    Strict,
}

/// How a project is planned in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PlanSettings {
    #[serde(default)]
    pub var_files: Vec<PathBuf>,
    #[serde(default)]
    pub workspace: Option<String>,
    /// `-backend-config` entries: `key=value` pairs or file paths. The engine
    /// runs in the project's directory, so a file path is relative to it
    /// (`backend/dev.hcl`), as it would be on Terraform's command line.
    #[serde(default)]
    pub backend_config: Vec<String>,
    /// Extra environment variables for the engine process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// phasegate's name for the environment (`dev`, `staging`, `prod`).
    pub name: String,
    /// The GitHub environment the apply job runs under; defaults to `name`.
    #[serde(default)]
    pub github_environment: Option<String>,
    /// Refuse to apply when the GitHub environment has no required reviewers.
    #[serde(default)]
    pub reviewers_required: bool,
    /// Forbid the PR author from approving their own change.
    #[serde(default = "default_true")]
    pub prevent_self_review: bool,
    /// Required reviewers `environments sync` puts on the GitHub environment:
    /// user logins, or teams as `org/team-slug`. At most 6.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Minutes GitHub waits before a deployment may start.
    #[serde(default)]
    pub wait_timer_minutes: u64,
    /// Allow deployments to this environment only from protected branches.
    #[serde(default)]
    pub protected_branches_only: bool,
    /// Protected environments guard destroys of stateful resources.
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub security_policy: SecurityPolicy,
    /// Monthly budget (USD) for the whole environment.
    #[serde(default)]
    pub monthly_budget: Option<f64>,
    /// AWS-style region used for pricing when the plan names none.
    #[serde(default)]
    pub region: Option<String>,
    /// Settings applied to every project in this environment.
    #[serde(default)]
    pub plan: PlanSettings,
    /// Per-project overrides, by project name.
    #[serde(default)]
    pub projects: BTreeMap<String, PlanSettings>,
    /// Verification checks of every phase in this environment, run before the
    /// phase's own; the scheduled `phasegate drift` runs them again (health).
    #[serde(default)]
    pub checks: Vec<Check>,
    /// How a plan is approved in this environment.
    #[serde(default, skip_serializing_if = "EnvApprovals::is_empty")]
    pub approvals: EnvApprovals,
}

/// How a plan is approved in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EnvApprovals {
    /// Accept a plan without a person when every condition stated here holds for every
    /// project of the phase. Journaled as an approval by `rule` with its conditions and the
    /// digest. It never overrides GitHub's required reviewers (an environment with
    /// `reviewers_required` or `reviewers` still needs them), nor stands in for a person
    /// where a step is irreversible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<AutoApproval>,
}

impl EnvApprovals {
    pub fn is_empty(&self) -> bool {
        self.auto.is_none()
    }
}

/// The conditions of an automatic approval; only the ones stated count, and at least one
/// must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AutoApproval {
    /// No resource is destroyed (a replacement destroys too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_destroys: bool,
    /// No resource is replaced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_replaces: bool,
    /// The security gate's verdict is at most this: `pass`, or `warn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityAtMost>,
    /// The monthly cost delta (USD) is known and at most this. A delta with unpriced
    /// resources is a lower bound, so it never satisfies the condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_delta: Option<f64>,
    /// The blast radius the blast gate measured is at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_blast_radius: Option<BlastRadius>,
    /// Every changed resource is of one of these types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_types: Vec<String>,
}

impl AutoApproval {
    /// No condition is stated: such a rule would approve everything.
    pub fn states_nothing(&self) -> bool {
        !self.no_destroys
            && !self.no_replaces
            && self.security.is_none()
            && self.max_cost_delta.is_none()
            && self.max_blast_radius.is_none()
            && self.resource_types.is_empty()
    }

    /// Whether GitHub's own review holds this environment's apply job, which
    /// no rule overrides.
    pub fn overridden_by_reviewers(env: &Environment) -> bool {
        env.reviewers_required || !env.reviewers.is_empty()
    }
}

/// The worst security verdict an automatic approval accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecurityAtMost {
    Pass,
    Warn,
}

impl Environment {
    pub fn github_environment(&self) -> &str {
        self.github_environment.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub name: String,
    /// Directory of the root module, relative to the config file.
    pub dir: PathBuf,
    /// Projects planned and applied before this one in every phase (and,
    /// in the generated workflows, in an earlier dependency level).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Upstream outputs this project's Terraform reads, by variable name:
    /// `vpc_id: network.outputs.vpc_id` passes output `vpc_id` of project
    /// `network` (read from its state in the same environment) as
    /// `TF_VAR_vpc_id`. Each named project is an upstream too, so it is
    /// planned and applied first; the plan's digest binds the values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    /// The environments this project is deployed to, by name; absent means
    /// every environment. A root module per environment directory
    /// (`envs/dev`) belongs to its own environment only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
}

impl Project {
    /// The projects this one runs after, in the order named: its
    /// `depends_on`, then the projects its `inputs` read. Plans, applies, the matrix and the generated workflows
    /// order projects by these.
    pub fn upstreams(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let from_inputs = self
            .inputs
            .values()
            .filter_map(|source| super::inputs::InputRef::parse(source).ok())
            .map(|r| r.project);
        for d in self
            .depends_on
            .iter()
            .map(String::as_str)
            .chain(from_inputs)
        {
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// Whether the project is deployed to `environment`.
    pub fn in_environment(&self, environment: &str) -> bool {
        self.environments
            .as_ref()
            .is_none_or(|envs| envs.iter().any(|e| e == environment))
    }
}

/// Who may approve through the fallback gate (`/phasegate approve`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// Minimum repository permission: `write`, `maintain` or `admin`.
    #[serde(default)]
    pub min_permission: Option<String>,
    /// Users who may approve regardless of permission.
    #[serde(default)]
    pub approvers: Vec<String>,
}

/// `phasegate.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Always 1.
    pub version: u32,
    #[serde(default)]
    pub engine: EngineConfig,
    /// In promotion order.
    pub environments: Vec<Environment>,
    pub projects: Vec<Project>,
    /// Where results are written; default `.phasegate`.
    #[serde(default)]
    pub output_dir: Option<PathBuf>,
    #[serde(default)]
    pub approvals: ApprovalConfig,
    /// How phasegate talks to GitHub.
    #[serde(default)]
    pub github: GithubSettings,
    /// JSON Schema reference for editor completion; ignored by phasegate.
    #[serde(default, rename = "$schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// How `phasegate init` and `workflows check` generate the GitHub workflows.
    #[serde(default)]
    pub workflows: WorkflowSettings,
    /// Where the journal and the locks live.
    #[serde(default)]
    pub store: StoreConfig,
    /// Rego (OPA / conftest) policy sets run by the policy gate.
    #[serde(default)]
    pub policies: Vec<PolicySet>,
    /// Security gate settings shared by every environment.
    #[serde(default)]
    pub security: SecuritySettings,
    /// How `phasegate drift` reports drift.
    #[serde(default)]
    pub drift: DriftSettings,
    /// The change plan every command reads when `--change` is not given, relative to this
    /// file (for example `change.yml`): a PR that edits it declares its change's phases,
    /// steps and acknowledgements, and the generated workflows read it without an input.
    /// A missing file means no change plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_plan: Option<PathBuf>,
}

/// How `phasegate drift` reports drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DriftSettings {
    /// `fail` (default): drift makes the run exit 1; `succeed`: exit 0 and
    /// say so in the step outputs (`drifted`, counts, issue URLs).
    #[serde(default)]
    pub on_drift: OnDrift,
    /// The label every drift issue carries; default `phasegate-drift`.
    /// Created when the repository lacks it.
    #[serde(default)]
    pub label: Option<String>,
    /// Open, update and close one GitHub issue per project and environment
    /// (default true; needs `issues: write`).
    #[serde(default)]
    pub issues: Option<bool>,
}

/// What a drift run ends as when something drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnDrift {
    /// Exit 1 (a red scheduled run).
    #[default]
    Fail,
    /// Exit 0; the outputs say `drifted=true`.
    Succeed,
}

/// GitHub settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct GithubSettings {
    /// The login the token comments as, so phasegate can tell its own
    /// comment from a copy: `github-actions[bot]` for the workflow's default
    /// GITHUB_TOKEN, `<app-slug>[bot]` for a GitHub App's token, or a user's
    /// login. Needed only when GitHub cannot say (its answer is checked
    /// against this when it can).
    #[serde(default)]
    pub bot_login: Option<String>,
}

/// When the promotion chain (plan → review → apply → verify per environment) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PromotionMode {
    /// On push to the default branch, after the PR is merged.
    #[default]
    ApplyAfterMerge,
    /// On the PR itself; a required check blocks the merge until the last
    /// environment is applied.
    ApplyBeforeMerge,
}

/// Settings of the generated GitHub workflows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSettings {
    #[serde(default)]
    pub mode: PromotionMode,
    /// The phasegate action, pinned by full commit SHA: `owner/repo@<40 hex>`.
    #[serde(default)]
    pub action: Option<String>,
    /// The phasegate release the action installs (`0.1.0`); default this binary's version.
    #[serde(default)]
    pub version: Option<String>,
    /// The branch merges land on; default `main`.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// Cron schedule of the drift workflow (UTC); default `17 3 * * *`.
    #[serde(default)]
    pub drift_schedule: Option<String>,
}

/// The journal's backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// A directory (`path`); the default outside GitHub Actions.
    Local,
    /// The repository itself, through the Git Data API.
    Github,
}

/// Where the journal and the locks live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Default: `github` in GitHub Actions, `local` elsewhere.
    #[serde(default)]
    pub backend: Option<StoreBackend>,
    /// The local backend's directory, relative to the config file; default
    /// `store/` in the output directory. `PHASEGATE_STORE_DIR` overrides it.
    #[serde(default)]
    pub path: Option<PathBuf>,
}

/// `security:` in `phasegate.yml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// What a check that cannot run until apply does to the verdict
    /// (`pass`: listed apart, never blocks).
    #[serde(default)]
    pub unknown: UnknownPolicy,
}

/// The verdict a check gives when a value it needs is known only after apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPolicy {
    /// Listed as "could not be checked until apply"; the verdict is unchanged.
    #[default]
    Pass,
    /// The gate warns.
    Warn,
    /// The gate blocks until the values are known (plan again after apply).
    Block,
}

/// Declared blast radius of a phase.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    Default,
)]
#[serde(rename_all = "lowercase")]
pub enum BlastRadius {
    #[default]
    Low,
    Medium,
    High,
    Critical,
}

/// A verification check run after apply by `phasegate verify`, and (all but
/// `convergence`) again by every `phasegate drift` run of the environment it
/// is declared for. Durations are written `500ms`, `10s` or `2m`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Check {
    /// An HTTP(S) request answers with the expected status and body.
    Http(HttpCheck),
    /// A TLS endpoint presents a trusted certificate, valid long enough, for the expected names.
    Tls(TlsCheck),
    /// A DNS name resolves to the expected values.
    Dns(DnsCheck),
    /// A Terraform output equals or matches a value.
    Output(OutputCheck),
    /// A fresh plan shows no changes.
    Convergence(ConvergenceCheck),
    /// A program (argv, never a shell) exits with the expected code in time.
    Command(CommandCheck),
}

/// An HTTP method a check may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// Shown in results; default `http <url>`.
    #[serde(default)]
    pub name: Option<String>,
    /// `http://` or `https://` URL.
    pub url: String,
    #[serde(default)]
    pub method: HttpMethod,
    /// Request body, sent as is.
    #[serde(default)]
    pub body: Option<String>,
    /// Expected status; default any 2xx.
    #[serde(default)]
    pub expect_status: Option<u16>,
    /// The response body contains this text.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// The response body matches this regular expression.
    #[serde(default)]
    pub body_regex: Option<String>,
    /// A response slower than this passes with a warning (e.g. `800ms`).
    #[serde(default)]
    pub warn_latency: Option<String>,
    /// PEM bundle of the CAs to trust instead of the system's, relative to the config file.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Further attempts after the first fails; default 0.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Wait between attempts; default `5s`.
    #[serde(default)]
    pub interval: Option<String>,
    /// Time limit of one attempt; default `10s` (`60s` for `command`).
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsCheck {
    /// Shown in results; default `tls <host>`.
    #[serde(default)]
    pub name: Option<String>,
    /// `host:port`; the port defaults to 443.
    pub host: String,
    /// Name sent in SNI and verified; default the host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Fewer days of validity left fails the check; default 14.
    #[serde(default)]
    pub min_days_valid: Option<u32>,
    /// Fewer days left (but at least `min_days_valid`) passes with a warning,
    /// so a certificate nearing its end is reported before it fails; default
    /// 30, or `min_days_valid` + 14 when that is more.
    #[serde(default)]
    pub warn_days_valid: Option<u32>,
    /// Names the certificate must cover (subject alternative names; `*.` wildcards count).
    #[serde(default)]
    pub expect_names: Vec<String>,
    /// PEM bundle of the CAs to trust instead of the system's, relative to the config file.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Further attempts after the first fails; default 0.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Wait between attempts; default `5s`.
    #[serde(default)]
    pub interval: Option<String>,
    /// Time limit of one attempt; default `10s` (`60s` for `command`).
    #[serde(default)]
    pub timeout: Option<String>,
}

/// A DNS record type a check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsRecordType {
    #[default]
    A,
    Aaaa,
    Cname,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsCheck {
    /// Shown in results; default `dns <record> <type>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The DNS name asked for.
    pub record: String,
    #[serde(default, rename = "type")]
    pub record_type: DnsRecordType,
    /// Values every one of which must be in the answer (addresses, or the
    /// CNAME target); empty means any answer passes.
    #[serde(default)]
    pub expect: Vec<String>,
    /// Resolver `ip:port` asked directly over UDP; default the first
    /// `nameserver` of /etc/resolv.conf.
    #[serde(default)]
    pub resolver: Option<String>,
    /// Further attempts after the first fails; default 0.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Wait between attempts; default `5s`.
    #[serde(default)]
    pub interval: Option<String>,
    /// Time limit of one attempt; default `10s` (`60s` for `command`).
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputCheck {
    /// Shown in results; default `output <output>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The project whose outputs are read; default every project of the phase.
    #[serde(default)]
    pub project: Option<String>,
    /// The Terraform output's name.
    pub output: String,
    /// The output's value equals this (any JSON value). Without `equals`
    /// and `matches` the output must exist and not be null.
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    /// The output (a string, else its JSON text) matches this regular expression.
    #[serde(default)]
    pub matches: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ConvergenceCheck {
    /// Shown in results; default `convergence`.
    #[serde(default)]
    pub name: Option<String>,
    /// The project re-planned; default every project of the phase.
    #[serde(default)]
    pub project: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    /// Shown in results; default `command <argv[0]>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Program and arguments, run without a shell.
    pub argv: Vec<String>,
    /// Working directory relative to the config file; default the config's directory.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Expected exit code; default 0.
    #[serde(default)]
    pub expect_exit: Option<i32>,
    /// Further attempts after the first fails; default 0.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Wait between attempts; default `5s`.
    #[serde(default)]
    pub interval: Option<String>,
    /// Time limit of one attempt; default `10s` (`60s` for `command`).
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub name: String,
    /// Name of an environment in the config.
    pub environment: String,
    /// Project names; empty means every configured project.
    #[serde(default)]
    pub projects: Vec<String>,
    #[serde(default)]
    pub blast_radius: BlastRadius,
    /// Monthly budget (USD) for this phase.
    #[serde(default)]
    pub monthly_budget: Option<f64>,
    #[serde(default)]
    pub checks: Vec<Check>,
    /// The phase's steps, in order: its Terraform apply (`kind: terraform`) and operations.
    /// Absent: one Terraform apply of the phase's projects. Operations run through
    /// `phasegate steps`, under the phase's approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<super::steps::Step>,
}

/// What an acknowledgement covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// A finding ID (`PG-AWS-012`), `cost-budget` or `blast-radius`.
    pub id: String,
    /// Resource address or glob; default every address.
    #[serde(default)]
    pub address: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub by: Option<String>,
    /// `YYYY-MM-DD`; after it the acknowledgement no longer counts.
    #[serde(default)]
    pub expires: Option<String>,
    /// Limit to one phase by name.
    #[serde(default)]
    pub phase: Option<String>,
}

/// Explicit permission to destroy or replace a stateful resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowDestroy {
    /// Resource address or glob.
    pub address: String,
    pub reason: String,
    #[serde(default)]
    pub phase: Option<String>,
}

/// The change plan (`--change FILE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlan {
    /// Always 1.
    pub version: u32,
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub phases: Vec<Phase>,
    #[serde(default)]
    pub acknowledgements: Vec<Acknowledgement>,
    #[serde(default)]
    pub allow_destroy: Vec<AllowDestroy>,
}

fn default_true() -> bool {
    true
}

/// A severity a policy set gives its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicySeverity {
    /// Blocks; no acknowledgement helps.
    Critical,
    /// Needs an acknowledgement in the change plan.
    High,
    Medium,
    Low,
    Info,
}

/// One set of Rego policies, evaluated as conftest would over each plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    /// Shown in findings and errors; default the first path.
    #[serde(default)]
    pub name: Option<String>,
    /// Directories (searched recursively) or files of `.rego` policies,
    /// relative to the config file. `_test.rego` files are only run by
    /// `phasegate policy test`.
    pub paths: Vec<PathBuf>,
    /// JSON or YAML data files (or directories of them), merged into `data`.
    #[serde(default)]
    pub data: Vec<PathBuf>,
    /// Packages whose `deny`/`violation`/`warn` rules count; default `main`.
    /// `*` means every package of the set.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Only in these environments; empty means all.
    #[serde(default)]
    pub environments: Vec<String>,
    /// Only for these projects; empty means all.
    #[serde(default)]
    pub projects: Vec<String>,
    /// Severity of `deny` and `violation` findings; default high (needs an
    /// acknowledgement). `warn` findings are medium.
    #[serde(default)]
    pub severity: Option<PolicySeverity>,
    /// Per-rule severity, by rule name (`deny_public_bucket`) or
    /// `namespace.rule`; raising a rule to `critical` makes it block.
    #[serde(default)]
    pub rules: BTreeMap<String, PolicySeverity>,
    /// Evaluation time limit for one plan, in milliseconds; default 5000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}
