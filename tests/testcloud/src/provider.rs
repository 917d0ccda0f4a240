//! The provider itself: its configuration block (`region`) and the table of resource types.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::{ValueEmpty, ValueString};
use tf_provider::{Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::catalog;
use crate::resource::{store_or_report, CloudResource, Settings, SharedSettings};

/// The region used when the provider block names none.
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProviderConfig<'a> {
    #[serde(borrow, default)]
    pub region: ValueString<'a>,
}

pub struct TestCloud {
    settings: SharedSettings,
}

impl TestCloud {
    pub fn new() -> Self {
        Self {
            settings: Arc::new(RwLock::new(Settings {
                region: DEFAULT_REGION.to_owned(),
            })),
        }
    }
}

#[async_trait]
impl Provider for TestCloud {
    type Config<'a> = ProviderConfig<'a>;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let region = Attribute {
            attr_type: AttributeType::String,
            description: Description::plain(
                "Region baked into ARNs and addresses; us-east-1 by default",
            ),
            constraint: AttributeConstraint::Optional,
            sensitive: false,
            deprecated: false,
        };
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "testcloud: an AWS-shaped cloud kept as JSON files under $TESTCLOUD_DIR",
                ),
                attributes: HashMap::from([("region".to_owned(), region)]),
                ..Block::default()
            },
        })
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: ProviderConfig<'a>,
    ) -> Option<()> {
        // Fail at configure time, before any resource is touched, when the cloud has no home.
        store_or_report(diags)?;
        let region = config
            .region
            .as_option()
            .map(Cow::into_owned)
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        match self.settings.write() {
            Ok(mut settings) => settings.region = region,
            Err(poisoned) => poisoned.into_inner().region = region,
        }
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(
            catalog::all()
                .into_iter()
                .map(|spec| {
                    let name = spec.short_name.to_owned();
                    let resource: Box<dyn DynamicResource> =
                        Box::new(CloudResource::new(spec, self.settings.clone()));
                    (name, resource)
                })
                .collect(),
        )
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(HashMap::new())
    }
}
