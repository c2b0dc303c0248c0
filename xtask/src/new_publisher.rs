//! `cargo xtask new-publisher <name>`: scaffolds `crates/publisher-<name>`,
//! `templates/<name>/`, the server's dependency, feature and registration line.

use std::path::Path;

use anyhow::{Context, Result, bail};
use xshell::Shell;

pub(crate) fn run(shell: &Shell, name: &str) -> Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 32;
    if !valid {
        bail!(
            "`{name}` is not a channel name: use lowercase letters, digits and `-`, starting with a letter"
        );
    }
    let root = shell.current_dir();
    let crate_dir = root.join(format!("crates/publisher-{name}"));
    if crate_dir.exists() {
        bail!("{} already exists", crate_dir.display());
    }
    let type_name = type_name(name);
    for (path, text) in scaffold(name, &type_name) {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    edit(&root.join("Cargo.toml"), |text| {
        add_workspace_dependency(text, name)
    })?;
    edit(&root.join("crates/halcytone-server/Cargo.toml"), |text| {
        add_server_feature(text, name)
    })?;
    edit(
        &root.join("crates/halcytone-server/src/registry.rs"),
        |text| add_registration(text, name),
    )?;
    println!(
        "Scaffolded the {name} channel: crates/publisher-{name}, templates/{name}/, feature `{name}`."
    );
    println!(
        "Next: the wire format in src/wire.rs, the rules in src/publisher.rs, and its README."
    );
    Ok(())
}

fn edit(path: &Path, change: impl FnOnce(&str) -> Result<String>) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    std::fs::write(path, change(&text)?).with_context(|| format!("writing {}", path.display()))
}

fn type_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut characters = word.chars();
            characters
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + characters.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn insert_after(text: &str, anchor: &str, addition: &str) -> Result<String> {
    let index = text
        .find(anchor)
        .with_context(|| format!("cannot find `{anchor}`"))?
        + anchor.len();
    Ok(format!("{}{addition}{}", &text[..index], &text[index..]))
}

fn add_workspace_dependency(text: &str, name: &str) -> Result<String> {
    insert_after(
        text,
        "[workspace.dependencies]\n",
        &format!(
            "publisher-{name} = {{ path = \"crates/publisher-{name}\", default-features = false }}\n"
        ),
    )
}

fn add_server_feature(text: &str, name: &str) -> Result<String> {
    let text = text.replacen("default = [", &format!("default = [\"{name}\", "), 1);
    let text = insert_after(
        &text,
        "[features]\n",
        &format!("{name} = [\"dep:publisher-{name}\"]\n"),
    )?;
    insert_after(
        &text,
        "[dependencies]\n",
        &format!("publisher-{name} = {{ workspace = true, optional = true }}\n"),
    )
}

fn add_registration(text: &str, name: &str) -> Result<String> {
    let module = name.replace('-', "_");
    insert_after(
        text,
        "    registry.add_source(\"markdown\", markdown_source);\n",
        &format!(
            "    #[cfg(feature = \"{name}\")]\n    publisher_{module}::register(&mut registry);\n"
        ),
    )
}

fn scaffold(name: &str, type_name: &str) -> Vec<(String, String)> {
    let crate_dir = format!("crates/publisher-{name}");
    vec![
        (
            format!("{crate_dir}/Cargo.toml"),
            format!(
                "[package]\nname = \"publisher-{name}\"\ndescription = \"The {name} channel of Halcytone.\"\nversion.workspace = true\nedition.workspace = true\nrust-version.workspace = true\nlicense.workspace = true\npublish.workspace = true\n\n[dependencies]\nhalcytone-core.workspace = true\njiff.workspace = true\nserde.workspace = true\nserde_json.workspace = true\n\n[lints]\nworkspace = true\n"
            ),
        ),
        (
            format!("{crate_dir}/README.md"),
            format!(
                "# publisher-{name}\n\nThe `{name}` channel.\n\n## Capabilities\n\n- One post each weekday at 11:00 by default, rendered from `templates/{name}/post.hbs`.\n\n## The API\n\nDescribe the endpoint, headers and body here.\n\n## Configuration\n\n```toml\n[channels.{name}]\nbase_url = \"https://{name}.invalid\"\naccess_token = \"…\"\n```\n"
            ),
        ),
        (
            format!("{crate_dir}/src/lib.rs"),
            format!(
                "#![doc = include_str!(\"../README.md\")]\n#![deny(missing_docs)]\n\nmod config;\nmod publisher;\nmod wire;\n\nuse halcytone_core::prelude::*;\n\npub use crate::config::{type_name}Config;\npub use crate::publisher::{type_name}Publisher;\n\n/// The channel name.\npub const CHANNEL: Channel = Channel::from_static(\"{name}\");\n\n/// Registers the {name} publisher.\npub fn register(registry: &mut Registry) {{\n    registry.add_publisher(CHANNEL, |settings| Ok(std::sync::Arc::new({type_name}Publisher::new(settings.parse()?))));\n}}\n"
            ),
        ),
        (
            format!("{crate_dir}/src/config.rs"),
            format!(
                "//! `{type_name}Config`: the `[channels.{name}]` table.\n\nuse halcytone_core::prelude::*;\nuse serde::Deserialize;\n\n/// The `[channels.{name}]` configuration.\n#[derive(Debug, Clone, Deserialize)]\n#[serde(deny_unknown_fields)]\npub struct {type_name}Config {{\n    /// The API base URL.\n    pub base_url: Option<BaseUrl>,\n    /// The access token.\n    pub access_token: Option<SecretString>,\n}}\n"
            ),
        ),
        (
            format!("{crate_dir}/src/wire.rs"),
            format!(
                "//! The {name} API's request body.\n\nuse serde::Serialize;\n\n/// The create-post body.\n#[derive(Debug, Serialize)]\npub(crate) struct CreatePost<'a> {{\n    pub(crate) text: &'a str,\n}}\n"
            ),
        ),
        (
            format!("{crate_dir}/src/publisher.rs"),
            format!(
                "//! `{type_name}Publisher`: renders, validates and previews {name} posts.\n\nuse halcytone_core::prelude::*;\nuse jiff::civil::time;\nuse serde::{{Deserialize, Serialize}};\n\nuse crate::CHANNEL;\nuse crate::config::{type_name}Config;\nuse crate::wire::CreatePost;\n\n/// Host used in previews until `base_url` is configured.\nstatic UNCONFIGURED_BASE_URL: BaseUrl = BaseUrl::from_static(\"https://{name}.invalid\");\n\n/// A {name} post.\n#[derive(Debug, Clone, Serialize, Deserialize)]\n#[serde(deny_unknown_fields)]\npub(crate) struct {type_name}Content {{\n    pub(crate) text: String,\n}}\n\n/// Publishes {name} posts.\n#[derive(Debug)]\npub struct {type_name}Publisher {{\n    config: {type_name}Config,\n}}\n\nimpl {type_name}Publisher {{\n    /// Makes a publisher from its configuration.\n    pub fn new(config: {type_name}Config) -> Self {{\n        Self {{ config }}\n    }}\n}}\n\n#[derive(Serialize)]\nstruct TemplateData<'a> {{\n    item: &'a ItemView,\n}}\n\n#[async_trait]\nimpl Publisher for {type_name}Publisher {{\n    fn channel(&self) -> Channel {{\n        CHANNEL\n    }}\n\n    fn default_cadence(&self) -> Cadence {{\n        Cadence(vec![SlotRule {{\n            days: Weekdays::MONDAY_TO_FRIDAY,\n            time: time(11, 0, 0, 0),\n        }}])\n    }}\n\n    fn missing_configuration(&self) -> Vec<&'static str> {{\n        let mut missing = Vec::new();\n        if self.config.base_url.is_none() {{\n            missing.push(\"channels.{name}.base_url\");\n        }}\n        if self.config.access_token.is_none() {{\n            missing.push(\"channels.{name}.access_token\");\n        }}\n        missing\n    }}\n\n    fn render(&self, input: &RenderInput<'_>, renderer: &Renderer) -> Result<Content, PublishError> {{\n        let text = render_field(renderer, &CHANNEL, \"text\", \"{name}/post\", &TemplateData {{ item: input.item }})?;\n        Content::from_typed(&CHANNEL, &{type_name}Content {{ text: text.trim().to_owned() }})\n    }}\n\n    fn validate(&self, content: &Content) -> Result<(), PublishError> {{\n        let content: {type_name}Content = typed_content(&CHANNEL, content)?;\n        ensure(&CHANNEL, !content.text.trim().is_empty(), \"text\", || \"is empty\".to_owned())\n    }}\n\n    fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError> {{\n        let content: {type_name}Content = typed_content(&CHANNEL, &post.content)?;\n        let base_url = self.config.base_url.as_ref().unwrap_or(&UNCONFIGURED_BASE_URL);\n        Ok(vec![OutboundRequest::json(\n            &CHANNEL,\n            Method::Post,\n            base_url.join(\"/posts\"),\n            vec![(\"authorization\", HeaderValue::bearer(self.config.access_token.as_ref()))],\n            &CreatePost {{ text: &content.text }},\n        )?])\n    }}\n\n    async fn publish(&self, _post: &OutgoingPost) -> Result<PublishReceipt, PublishError> {{\n        Err(PublishError::Unsupported {{\n            channel: CHANNEL,\n            what: \"publishing\",\n        }})\n    }}\n}}\n"
            ),
        ),
        (
            format!("templates/{name}/post.hbs"),
            "{{item.title}}\n\n{{item.summary}}\n".to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(type_name("mastodon"), "Mastodon");
        assert_eq!(type_name("blue-sky"), "BlueSky");
    }

    #[test]
    fn the_server_edits_land_in_the_real_files() {
        let root = crate::project_root();
        let cargo =
            std::fs::read_to_string(root.join("crates/halcytone-server/Cargo.toml")).unwrap();
        let edited = add_server_feature(&cargo, "mastodon").unwrap();
        assert!(edited.contains("mastodon = [\"dep:publisher-mastodon\"]\n"));
        assert!(edited.contains("default = [\"mastodon\", "));
        assert!(edited.contains("publisher-mastodon = { workspace = true, optional = true }\n"));
        let registry =
            std::fs::read_to_string(root.join("crates/halcytone-server/src/registry.rs")).unwrap();
        let edited = add_registration(&registry, "mastodon").unwrap();
        assert!(edited.contains(
            "#[cfg(feature = \"mastodon\")]\n    publisher_mastodon::register(&mut registry);\n"
        ));
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(
            add_workspace_dependency(&workspace, "mastodon")
                .unwrap()
                .contains("publisher-mastodon = { path")
        );
    }
}
