//! testcloud: a Terraform provider, served as `hashicorp/aws`, that emulates a small AWS-shaped
//! cloud on the local filesystem so that phasegate's tests can run real Terraform offline.
//!
//! Each resource is a JSON file at `$TESTCLOUD_DIR/<type>/<id>.json`. Names containing
//! `fail-apply` fail on create; `TESTCLOUD_DELAY_MS` slows every create, update and delete.

mod catalog;
mod lifecycle;
mod provider;
mod resource;
mod store;
mod values;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tf_provider::serve("aws", provider::TestCloud::new()).await
}
