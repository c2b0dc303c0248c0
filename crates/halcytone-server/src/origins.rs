//! Where configuration keys were set, so that an error names the file and
//! line or the environment variable, and relative paths in a file resolve
//! against the file's directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use halcytone_core::error::ConfigError;
use toml::de::{DeTable, DeValue};

/// Keys whose values are paths: relative ones written in a configuration
/// file are relative to that file.
pub(crate) const PATH_KEYS: [&str; 4] = [
    "data_dir",
    "templates.dir",
    "source.path",
    "source.credentials_file",
];

/// The configuration file read (its path and text) and the `HALCYTONE__`
/// variables set.
#[derive(Clone, Default)]
pub(crate) struct Origins {
    file: Option<(PathBuf, String)>,
    variables: BTreeSet<String>,
}

/// The file's text may hold secrets: only its path is shown.
impl std::fmt::Debug for Origins {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Origins")
            .field("file", &self.file.as_ref().map(|(path, _)| path))
            .field("variables", &self.variables)
            .finish()
    }
}

impl Origins {
    /// Origins for a file (when one is read) and the variables set.
    pub(crate) fn new(file: Option<(PathBuf, String)>, variables: BTreeSet<String>) -> Self {
        Self { file, variables }
    }

    /// The configuration file read, if any.
    pub(crate) fn file(&self) -> Option<&Path> {
        self.file.as_ref().map(|(path, _)| path.as_path())
    }

    /// The variable that sets `key`: `channels.twitter.base_url` →
    /// `HALCYTONE__CHANNELS__TWITTER__BASE_URL`.
    pub(crate) fn variable(key: &str) -> String {
        format!("HALCYTONE__{}", key.replace('.', "__").to_ascii_uppercase())
    }

    /// The path keys written in the file as relative paths, resolved
    /// against the file's directory (those a variable overrides are left).
    pub(crate) fn resolved_paths(&self) -> Vec<(String, PathBuf)> {
        let Some((path, text)) = &self.file else {
            return Vec::new();
        };
        let Some(directory) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        else {
            return Vec::new();
        };
        let Ok(document) = DeTable::parse(text) else {
            return Vec::new();
        };
        // Each `[locales.<code>]` document's paths, as the main source's.
        let locale_keys = match find(document.get_ref(), "locales") {
            Some((_, DeValue::Table(locales))) => locales
                .iter()
                .flat_map(|(code, _)| {
                    ["path", "credentials_file"]
                        .map(|key| format!("locales.{}.{key}", code.get_ref()))
                })
                .collect(),
            _ => Vec::new(),
        };
        PATH_KEYS
            .iter()
            .map(|key| (*key).to_owned())
            .chain(locale_keys)
            .filter(|key| !self.variables.contains(&Self::variable(key)))
            .filter_map(|key| {
                let (_, value) = find(document.get_ref(), &key)?;
                let written = Path::new(value.as_str()?);
                (written.is_relative() && !written.as_os_str().is_empty())
                    .then(|| (key, directory.join(written)))
            })
            .collect()
    }

    /// `error` in words a person acts on: serde's "unknown field" becomes
    /// the unknown key with every allowed one, and the key's origin is
    /// named — `(halcytone.toml, line 4)` or `(set by HALCYTONE__…)`.
    pub(crate) fn locate(&self, error: ConfigError) -> ConfigError {
        let (key, message) = plain(&error.key, &error.message);
        let origin = if self.variables.contains(&Self::variable(&key)) {
            Some(format!("set by {}", Self::variable(&key)))
        } else {
            self.file.as_ref().and_then(|(path, text)| {
                let line = line_of(text, &key)?;
                Some(format!("{}, line {line}", path.display()))
            })
        };
        match origin {
            Some(origin) => ConfigError::new(key, format!("{message} ({origin})")),
            None => ConfigError::new(key, message),
        }
    }
}

/// The key and message of a `config` or serde error, without the crate's
/// phrasing: `for key … in …` folded into the key, unknown fields named as
/// keys with the allowed ones listed.
fn plain(key: &str, message: &str) -> (String, String) {
    let mut key = if key == "configuration" {
        String::new()
    } else {
        key.to_owned()
    };
    let mut message = message.to_owned();
    if let Some((before, after)) = message.rsplit_once(" for key `")
        && let Some((named, _)) = after.split_once('`')
    {
        if key.is_empty() || named.starts_with(&key) {
            key = named.to_owned();
        }
        message = before.to_owned();
    }
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, allowed)) = rest.split_once('`')
    {
        key = if key.is_empty() {
            field.to_owned()
        } else {
            format!("{key}.{field}")
        };
        let mut allowed = allowed
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .replace("` or `", ", ")
            .replace('`', "");
        // A channel's table also takes the keys every channel has.
        if key.starts_with("channels.") && key.matches('.').count() == 2 {
            for common in crate::config::CHANNEL_KEYS {
                allowed.push_str(", ");
                allowed.push_str(common);
            }
        }
        message = if allowed.is_empty() || allowed.starts_with(", there are no fields") {
            "unknown key: this table takes no keys".to_owned()
        } else {
            format!("unknown key; the allowed keys are {allowed}")
        };
    }
    if key.is_empty() {
        key = "configuration".to_owned();
    }
    (key, message)
}

/// The line (from 1) where the dotted `key` is written in `text`.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let document = DeTable::parse(text).ok()?;
    let (span, _) = find(document.get_ref(), key)?;
    Some(text.get(..span)?.matches('\n').count() + 1)
}

/// The byte offset of `key`'s name and its value, walking dotted keys
/// through nested tables.
fn find<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<(usize, &'a DeValue<'i>)> {
    let (first, rest) = match key.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (key, None),
    };
    let (name, value) = table.iter().find(|(name, _)| name.get_ref() == first)?;
    match (rest, value.get_ref()) {
        (None, value) => Some((name.span().start, value)),
        (Some(rest), DeValue::Table(inner)) => find(inner, rest),
        (Some(_), _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "timezone = \"UTC\"\n\n[resilience]\nmax_atempts = 3\n\n[channels.twitter]\nbearer_tokn = \"x\"\n[source]\npath = \"docs/living.md\"\n";

    fn origins(variables: &[&str]) -> Origins {
        Origins::new(
            Some((PathBuf::from("conf/halcytone.toml"), FILE.to_owned())),
            variables.iter().map(|name| (*name).to_owned()).collect(),
        )
    }

    #[test]
    fn unknown_keys_are_named_with_their_line_and_the_allowed_keys() {
        let error = origins(&[]).locate(ConfigError::new(
            "configuration",
            "unknown field `max_atempts`, expected one of `max_attempts`, `min_delay` for key `resilience`",
        ));
        assert_eq!(
            error.to_string(),
            "resilience.max_atempts: unknown key; the allowed keys are max_attempts, min_delay (conf/halcytone.toml, line 4)"
        );
        let error = origins(&[]).locate(ConfigError::new(
            "channels.twitter",
            "unknown field `bearer_tokn`, expected one of `base_url`, `bearer_token`",
        ));
        assert_eq!(
            error.to_string(),
            "channels.twitter.bearer_tokn: unknown key; the allowed keys are base_url, bearer_token, enabled, cadence, rate_limit, daily_cap, metrics_rate_limit (conf/halcytone.toml, line 7)"
        );
    }

    #[test]
    fn a_bad_variable_is_named() {
        let error = origins(&["HALCYTONE__RESILIENCE__MAX_ATTEMPTS"]).locate(ConfigError::new(
            "configuration",
            "invalid type: string \"three\", expected an integer for key `resilience.max_attempts` in the environment",
        ));
        assert_eq!(
            error.to_string(),
            "resilience.max_attempts: invalid type: string \"three\", expected an integer (set by HALCYTONE__RESILIENCE__MAX_ATTEMPTS)"
        );
    }

    #[test]
    fn checked_keys_get_their_line_too() {
        let error = origins(&[]).locate(ConfigError::new("timezone", "`Mars` is not a zone"));
        assert_eq!(
            error.to_string(),
            "timezone: `Mars` is not a zone (conf/halcytone.toml, line 1)"
        );
        let error = Origins::default().locate(ConfigError::new("timezone", "bad"));
        assert_eq!(error.to_string(), "timezone: bad");
    }

    #[test]
    fn relative_paths_resolve_against_the_files_directory() {
        assert_eq!(
            origins(&[]).resolved_paths(),
            vec![(
                "source.path".to_owned(),
                PathBuf::from("conf/docs/living.md")
            )]
        );
        assert!(
            origins(&["HALCYTONE__SOURCE__PATH"])
                .resolved_paths()
                .is_empty()
        );
    }
}
