//! The blast-radius gate and the destroy guard: how much a phase's plans can
//! break, compared with what the change plan declared, and whether a
//! protected environment loses data.
//!
//! # Scoring
//! The actual level is the highest level any rule reaches:
//!
//! | rule | level |
//! |---|---|
//! | nothing changes, or only creates and in-place updates of ordinary resources | low |
//! | more than 25 resources change | medium |
//! | an ordinary resource is deleted or replaced | medium |
//! | an identity resource (IAM, service account, role assignment) is created or updated | medium |
//! | a stateful resource (database, bucket, volume, key, zone, cache, ...) is updated in place | medium |
//! | 5 or more resources are deleted or replaced | high |
//! | an identity resource is deleted or replaced | high |
//! | a stateful resource is deleted or replaced | high |
//! | 3 or more stateful resources, or 20 or more resources, are deleted or replaced | critical |
//!
//! A protected environment then raises the level by one (critical stays critical).
//!
//! # Verdict
//! - A stateful resource deleted or replaced in a protected environment is
//!   guarded: `block`, unless an `allow_destroy` entry (address or glob,
//!   phase-matched when it names a phase) lets it through.
//! - Otherwise, actual above declared is `ack_required`, or `warn` with a
//!   live `blast-radius` acknowledgement.
//! - Allowed destroys alone give `warn`, so they are seen.

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;

use crate::config::{Acknowledgement, AllowDestroy, BlastRadius};
use crate::gates::Verdict;
use crate::plan::{Action, ChangeSet, Mode};

/// The acknowledgement ID that lets a larger-than-declared phase go on.
pub const ACK_ID: &str = "blast-radius";

/// Types that hold data: losing one loses the data.
const STATEFUL: &[&str] = &[
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_rds_global_cluster",
    "aws_docdb_cluster*",
    "aws_neptune_cluster*",
    "aws_redshift_cluster",
    "aws_s3_bucket",
    "aws_ebs_volume",
    "aws_ebs_snapshot",
    "aws_efs_file_system",
    "aws_fsx_*_file_system",
    "aws_kms_key",
    "aws_route53_zone",
    "aws_dynamodb_table",
    "aws_elasticache_cluster",
    "aws_elasticache_replication_group",
    "aws_opensearch_domain",
    "aws_elasticsearch_domain",
    "aws_msk_cluster",
    "aws_kinesis_stream",
    "aws_sqs_queue",
    "aws_secretsmanager_secret",
    "aws_ecr_repository",
    "aws_backup_vault",
    "google_sql_database_instance",
    "google_sql_database",
    "google_storage_bucket",
    "google_compute_disk",
    "google_kms_crypto_key",
    "google_kms_key_ring",
    "google_dns_managed_zone",
    "google_bigquery_dataset",
    "google_bigquery_table",
    "google_filestore_instance",
    "google_redis_instance",
    "google_spanner_*",
    "google_bigtable_instance",
    "google_secret_manager_secret",
    "azurerm_storage_account",
    "azurerm_storage_container",
    "azurerm_managed_disk",
    "azurerm_postgresql_*server",
    "azurerm_mysql_*server",
    "azurerm_mssql_database",
    "azurerm_mssql_server",
    "azurerm_cosmosdb_account",
    "azurerm_key_vault",
    "azurerm_key_vault_key",
    "azurerm_dns_zone",
    "azurerm_redis_cache",
];

/// Types that grant access: a mistake here widens or cuts who can do what.
const IDENTITY: &[&str] = &[
    "aws_iam_*",
    "google_service_account*",
    "google_*_iam_*",
    "azurerm_role_assignment",
    "azurerm_role_definition",
    "azurerm_user_assigned_identity",
    "azuread_*",
];

fn globs(patterns: &[&str]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).expect("built-in type patterns are valid globs"));
    }
    b.build().expect("built-in type patterns build")
}

/// True for types whose loss loses data.
pub fn is_stateful(resource_type: &str) -> bool {
    static SET: std::sync::OnceLock<GlobSet> = std::sync::OnceLock::new();
    SET.get_or_init(|| globs(STATEFUL)).is_match(resource_type)
}

/// True for types that grant access.
pub fn is_identity(resource_type: &str) -> bool {
    static SET: std::sync::OnceLock<GlobSet> = std::sync::OnceLock::new();
    SET.get_or_init(|| globs(IDENTITY)).is_match(resource_type)
}

/// Everything the blast gate needs besides the plans.
#[derive(Debug, Clone)]
pub struct BlastContext {
    pub environment: String,
    pub protected: bool,
    /// What the change plan declared; None when nothing was declared
    /// (no change plan), and then nothing can exceed it.
    pub declared: Option<BlastRadius>,
    pub allow_destroy: Vec<AllowDestroy>,
    pub phase: Option<String>,
    pub acknowledgements: Vec<Acknowledgement>,
    pub today: chrono::NaiveDate,
}

/// A stateful resource a protected environment would lose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Guarded {
    pub project: String,
    pub address: String,
    pub action: Action,
    /// The `allow_destroy` entry's reason, when one lets it through.
    pub allowed_by: Option<String>,
}

/// The blast gate's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlastReport {
    pub gate: &'static str,
    pub verdict: Verdict,
    pub environment: String,
    pub protected: bool,
    /// What the change plan declared; None when nothing was declared
    /// (no change plan), and then nothing can exceed it.
    pub declared: Option<BlastRadius>,
    pub actual: BlastRadius,
    pub reasons: Vec<String>,
    /// Addresses of guarded destroys no `allow_destroy` entry lets through.
    pub guarded: Vec<String>,
    /// Addresses of guarded destroys that an `allow_destroy` entry allows.
    pub allowed: Vec<String>,
    pub guard_details: Vec<Guarded>,
    pub acknowledged_by: Option<String>,
    pub changed: usize,
    pub destroyed: usize,
}

fn raise(level: BlastRadius) -> BlastRadius {
    match level {
        BlastRadius::Low => BlastRadius::Medium,
        BlastRadius::Medium => BlastRadius::High,
        BlastRadius::High | BlastRadius::Critical => BlastRadius::Critical,
    }
}

/// The level's name, as config and reports write it.
pub fn level_name(level: BlastRadius) -> &'static str {
    match level {
        BlastRadius::Low => "low",
        BlastRadius::Medium => "medium",
        BlastRadius::High => "high",
        BlastRadius::Critical => "critical",
    }
}

fn list(addresses: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = addresses
        .iter()
        .take(SHOWN)
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if addresses.len() > SHOWN {
        s.push_str(&format!(" and {} more", addresses.len() - SHOWN));
    }
    s
}

/// Scores the phase's plans and applies the destroy guard.
pub fn evaluate(projects: &[(String, &ChangeSet)], ctx: &BlastContext) -> BlastReport {
    let mut changed = 0;
    let mut destroyed = Vec::new();
    let mut stateful_destroyed = Vec::new();
    let mut identity_destroyed = Vec::new();
    let mut identity_changed = Vec::new();
    let mut stateful_updated = Vec::new();
    let mut guard_details = Vec::new();
    for (project, changes) in projects {
        for rc in &changes.resources {
            if rc.mode != Mode::Managed || matches!(rc.action, Action::Read | Action::NoOp) {
                continue;
            }
            changed += 1;
            let t = rc.resource_type.as_str();
            if rc.action.destroys() {
                destroyed.push(rc.address.clone());
                if is_stateful(t) {
                    stateful_destroyed.push(rc.address.clone());
                    if ctx.protected {
                        guard_details.push(Guarded {
                            project: project.clone(),
                            address: rc.address.clone(),
                            action: rc.action,
                            allowed_by: allowance(
                                &ctx.allow_destroy,
                                &rc.address,
                                ctx.phase.as_deref(),
                            ),
                        });
                    }
                }
                if is_identity(t) {
                    identity_destroyed.push(rc.address.clone());
                }
            } else if is_identity(t) {
                identity_changed.push(rc.address.clone());
            } else if is_stateful(t) && rc.action == Action::Update {
                stateful_updated.push(rc.address.clone());
            }
        }
    }

    let mut level = BlastRadius::Low;
    let mut reasons = Vec::new();
    let mut rule = |hit: bool, at: BlastRadius, reason: String| {
        if hit {
            level = level.max(at);
            reasons.push(reason);
        }
    };
    let (nd, ns) = (destroyed.len(), stateful_destroyed.len());
    rule(
        ns >= 3 || nd >= 20,
        BlastRadius::Critical,
        format!("{nd} resource(s) destroyed or replaced, {ns} of them stateful"),
    );
    rule(
        ns > 0,
        BlastRadius::High,
        format!(
            "stateful resource(s) destroyed or replaced: {}",
            list(&stateful_destroyed)
        ),
    );
    rule(
        !identity_destroyed.is_empty(),
        BlastRadius::High,
        format!(
            "identity resource(s) destroyed or replaced: {}",
            list(&identity_destroyed)
        ),
    );
    rule(
        (5..20).contains(&nd) && ns < 3,
        BlastRadius::High,
        format!("{nd} resources destroyed or replaced"),
    );
    rule(
        nd > 0 && nd < 5 && ns == 0 && identity_destroyed.is_empty(),
        BlastRadius::Medium,
        format!("resource(s) destroyed or replaced: {}", list(&destroyed)),
    );
    rule(
        !identity_changed.is_empty(),
        BlastRadius::Medium,
        format!(
            "identity resource(s) created or changed: {}",
            list(&identity_changed)
        ),
    );
    rule(
        !stateful_updated.is_empty(),
        BlastRadius::Medium,
        format!(
            "stateful resource(s) changed in place: {}",
            list(&stateful_updated)
        ),
    );
    rule(
        changed > 25,
        BlastRadius::Medium,
        format!("{changed} resources change"),
    );
    if reasons.is_empty() {
        reasons.push(if changed == 0 {
            "nothing changes".to_string()
        } else {
            format!("{changed} resource(s) created or updated in place; nothing destroyed")
        });
    }
    if ctx.protected && changed > 0 {
        let before = level;
        level = raise(level);
        reasons.push(format!(
            "`{}` is protected: {} raised to {}",
            ctx.environment,
            level_name(before),
            level_name(level)
        ));
    }

    let guarded: Vec<String> = guard_details
        .iter()
        .filter(|g| g.allowed_by.is_none())
        .map(|g| g.address.clone())
        .collect();
    let allowed: Vec<String> = guard_details
        .iter()
        .filter(|g| g.allowed_by.is_some())
        .map(|g| g.address.clone())
        .collect();
    let over = ctx.declared.is_some_and(|declared| level > declared);
    let acknowledged_by = if over {
        crate::gates::live_acknowledgement(
            &ctx.acknowledgements,
            ACK_ID,
            ctx.phase.as_deref(),
            ctx.today,
        )
    } else {
        None
    };
    let verdict = if !guarded.is_empty() {
        Verdict::Block
    } else if over && acknowledged_by.is_none() {
        Verdict::AckRequired
    } else if over || !allowed.is_empty() {
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    BlastReport {
        gate: "blast",
        verdict,
        environment: ctx.environment.clone(),
        protected: ctx.protected,
        declared: ctx.declared,
        actual: level,
        reasons,
        guarded,
        allowed,
        guard_details,
        acknowledged_by,
        changed,
        destroyed: nd,
    }
}

/// The reason of the first `allow_destroy` entry that names `address`.
fn allowance(entries: &[AllowDestroy], address: &str, phase: Option<&str>) -> Option<String> {
    entries
        .iter()
        .filter(|e| e.phase.as_deref().is_none_or(|p| Some(p) == phase))
        .find(|e| {
            e.address == address
                || Glob::new(&e.address)
                    .map(|g| g.compile_matcher().is_match(address))
                    .unwrap_or(false)
        })
        .map(|e| e.reason.clone())
}

impl BlastReport {
    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a blast report serializes")
    }
}
