//! Snapshots of what the linkedin channel renders for the example document's week.

use std::sync::Arc;

use halcytone_core::testkit::{example_week, test_http_client};
use publisher_linkedin::{LinkedinConfig, LinkedinPublisher};

#[test]
fn the_example_week_renders_as_before() {
    let plan = example_week(Arc::new(LinkedinPublisher::new(
        LinkedinConfig::default(),
        test_http_client(),
    )));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    insta::assert_json_snapshot!(plan.posts);
}
