//! The `halcytone` command line, run as a user runs it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use halcytone_e2e::{halcytone, root, scratch};
use serde_json::Value;

/// Runs `halcytone` in `directory` with only the given HALCYTONE variables.
fn run(directory: &Path, arguments: &[&str], environment: &[(&str, &str)]) -> Output {
    let mut command = Command::new(halcytone());
    command.args(arguments).current_dir(directory);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("HALCYTONE")) {
        command.env_remove(name);
    }
    command.envs(environment.iter().copied());
    command.output().expect("halcytone runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn plan_json(directory: &Path, environment: &[(&str, &str)]) -> Value {
    let output = run(
        directory,
        &[
            "generate",
            "--period",
            "week",
            "--start",
            "2026-11-30",
            "--dry-run",
            "--json",
        ],
        environment,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("generate --json prints JSON")
}

#[test]
fn a_week_of_the_example_document_has_25_posts_with_previews() {
    let directory = scratch("week");
    let plan = plan_json(&directory, &[]);
    let posts = plan["posts"].as_array().unwrap();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for post in posts {
        *counts.entry(post["channel"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(
        counts,
        BTreeMap::from([("email", 1), ("linkedin", 5), ("twitter", 14), ("web", 5)])
    );
    assert_eq!(posts.len(), 25);
    assert_eq!(plan["period"], "week");
    assert_eq!(plan["start"], "2026-11-30");
    assert_eq!(plan["timezone"], "UTC");
    assert_eq!(plan["dry_run"], true);
    let expected_urls = [
        ("email", "https://crm.invalid/api/v1/newsletters"),
        ("web", "https://platform.invalid/api/v1/content"),
        ("twitter", "https://api.x.com/2/tweets"),
        ("linkedin", "https://api.linkedin.com/rest/posts"),
    ];
    for post in posts {
        let channel = post["channel"].as_str().unwrap();
        let request = &post["request"];
        assert_eq!(request["method"], "POST", "{post}");
        let url = expected_urls
            .iter()
            .find(|(name, _)| *name == channel)
            .unwrap()
            .1;
        assert_eq!(request["url"], url);
        assert_eq!(request["headers"]["content-type"], "application/json");
        assert!(request["body"].is_object());
        assert_eq!(post["status"], "draft");
        assert!(post["id"].as_str().unwrap().starts_with("post_"));
        assert!(post["scheduled_at"].as_str().unwrap().ends_with('Z'));
        assert!(post["item"]["id"].as_str().unwrap().contains('/'));
    }
    let email = posts
        .iter()
        .find(|post| post["channel"] == "email")
        .unwrap();
    assert_eq!(email["scheduled_at"], "2026-11-30T09:00:00Z");
    assert_eq!(email["item"]["section"], "Breathscape");
    assert_eq!(email["includes"].as_array().unwrap().len(), 5);
    assert!(
        email["content"]["subject"]
            .as_str()
            .unwrap()
            .starts_with("This Week in Breathscape: ")
    );
    assert!(
        email["request"]["headers"]["idempotency-key"]
            .as_str()
            .unwrap()
            .starts_with("halcytone-post_")
    );
    let linkedin = posts
        .iter()
        .find(|post| post["channel"] == "linkedin")
        .unwrap();
    assert_eq!(linkedin["request"]["headers"]["linkedin-version"], "202608");
    assert_eq!(
        linkedin["request"]["headers"]["x-restli-protocol-version"],
        "2.0.0"
    );
}

#[test]
fn secrets_never_reach_the_output() {
    let directory = scratch("secrets");
    let secrets = [
        (
            "HALCYTONE__CHANNELS__TWITTER__BEARER_TOKEN",
            "tw-secret-1234567",
        ),
        (
            "HALCYTONE__CHANNELS__LINKEDIN__ACCESS_TOKEN",
            "li-secret-7654321",
        ),
        ("HALCYTONE__CHANNELS__EMAIL__API_KEY", "crm-secret-abcdef"),
        ("HALCYTONE__CHANNELS__WEB__API_KEY", "web-secret-fedcba"),
    ];
    let output = run(
        &directory,
        &[
            "generate",
            "--period",
            "week",
            "--start",
            "2026-11-30",
            "--dry-run",
            "--json",
        ],
        &secrets,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = format!("{}{}", stdout(&output), stderr(&output));
    for (_, secret) in secrets {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    for post in plan["posts"].as_array().unwrap() {
        assert_eq!(post["request"]["headers"]["authorization"], "Bearer ***");
    }
}

#[test]
fn the_plan_is_deterministic_and_honours_channels_and_configuration() {
    let directory = scratch("deterministic");
    let first = plan_json(&directory, &[]);
    let mut second = plan_json(&directory, &[]);
    // The second reading of an unchanged document reports no changes.
    assert_eq!(
        second["changes"],
        serde_json::json!({"new": [], "changed": [], "gone": []})
    );
    second.as_object_mut().unwrap().remove("changes");
    assert_eq!(first, second);
    let output = run(
        &directory,
        &[
            "generate",
            "--period",
            "3d",
            "--start",
            "2026-11-30",
            "--channels",
            "twitter",
            "--dry-run",
            "--json",
        ],
        &[
            ("HALCYTONE__TIMEZONE", "Europe/London"),
            ("HALCYTONE__APPROVAL__REQUIRED", "false"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let posts = plan["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 6);
    assert!(
        posts
            .iter()
            .all(|post| post["channel"] == "twitter" && post["status"] == "scheduled")
    );
    assert_eq!(plan["timezone"], "Europe/London");
}

#[test]
fn the_human_table_lists_days_and_channels() {
    let directory = scratch("table");
    let output = run(
        &directory,
        &[
            "generate",
            "--period",
            "week",
            "--start",
            "2026-11-30",
            "--dry-run",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("Mon 2026-11-30"), "{text}");
    assert!(text.contains("Sun 2026-12-06"), "{text}");
    assert!(
        text.contains("  09:00  email     This Week in Breathscape: "),
        "{text}"
    );
    assert!(
        text.contains("25 posts: email 1, linkedin 5, twitter 14, web 5"),
        "{text}"
    );
}

#[test]
fn a_malformed_document_fails_with_its_line_numbers() {
    let directory = scratch("malformed");
    let document = directory.join("doc.md");
    std::fs::write(
        &document,
        "# Doc\n## News\n### One\nChannels: emial\n\nBody.\n### Two\nDate: 2026-02-30\n\nBody.\n### Three\nTags: x\n",
    )
    .unwrap();
    let output = run(
        &directory,
        &[
            "generate",
            "--period",
            "week",
            "--doc",
            "doc.md",
            "--dry-run",
        ],
        &[],
    );
    assert!(!output.status.success());
    assert!(
        output.stdout.is_empty(),
        "no partial plan: {}",
        stdout(&output)
    );
    let message = stderr(&output);
    assert!(
        message.contains("doc.md is not a valid living document"),
        "{message}"
    );
    assert!(
        message.contains("line 4: unknown channel `emial`"),
        "{message}"
    );
    assert!(
        message.contains("line 8: bad date `2026-02-30`"),
        "{message}"
    );
    assert!(
        message.contains("line 11: item `Three` has no body"),
        "{message}"
    );
}

#[test]
fn a_missing_document_names_the_file() {
    let directory = scratch("missing");
    let output = run(
        &directory,
        &["generate", "--doc", "nowhere.md", "--dry-run"],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot read nowhere.md"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn without_dry_run_generate_stores_drafts_to_review() {
    let directory = scratch("store");
    let output = run(
        &directory,
        &["generate", "--period", "week", "--start", "2026-11-30"],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Stored: 25 new, 0 updated, 0 unchanged, 0 kept"),
        "{}",
        stdout(&output)
    );
    let output = run(&directory, &["posts", "list", "--status", "draft"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listing = stdout(&output);
    assert!(listing.ends_with("25 posts\n"), "{listing}");
    assert!(listing.starts_with("ID "), "a header row: {listing}");
    assert!(
        listing.contains(" UTC "),
        "times in the configured zone: {listing}"
    );
    let id = listing
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let output = run(&directory, &["posts", "approve", &id], &[]);
    assert_eq!(stdout(&output), format!("{id}: draft → approved\n"));
    let output = run(&directory, &["posts", "approve", &id], &[]);
    assert!(!output.status.success());
    assert!(
        stdout(&output).contains("cannot approve a post that is approved"),
        "{}",
        stdout(&output)
    );
    assert!(stderr(&output).contains(&id), "{}", stderr(&output));
    let output = run(&directory, &["posts", "show", &id, "--json"], &[]);
    let post: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(post["status"], "approved");
    // A dry run of the whole process stores nothing more.
    let output = run(
        &directory,
        &["generate", "--period", "day", "--start", "2026-12-07"],
        &[("HALCYTONE_DRY_RUN", "true")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("Stored:"));
    let output = run(&directory, &["posts", "list"], &[]);
    assert!(stdout(&output).ends_with("25 posts\n"));
}

#[test]
fn bad_arguments_and_configuration_are_named() {
    let directory = scratch("bad-arguments");
    let output = run(
        &directory,
        &["generate", "--period", "fortnight", "--dry-run"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("bad period `fortnight`"),
        "{}",
        stderr(&output)
    );
    let output = run(
        &directory,
        &["generate", "--channels", "emial", "--dry-run"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unknown channel `emial`"),
        "{}",
        stderr(&output)
    );
    std::fs::write(
        directory.join("halcytone.toml"),
        "[channels.twitter]\ncadence = [\"daily 9\"]\n",
    )
    .unwrap();
    let output = run(&directory, &["generate", "--dry-run"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("channels.twitter.cadence: bad cadence slot `daily 9`"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("(halcytone.toml, line 2)"),
        "{}",
        stderr(&output)
    );
    std::fs::remove_file(directory.join("halcytone.toml")).unwrap();
    let output = run(
        &directory,
        &["generate", "--dry-run"],
        &[("HALCYTONE__CHANNELS__TWITTER__BEARER_TOKN", "x")],
    );
    assert!(
        stderr(&output).contains("channels.twitter.bearer_tokn: unknown key; the allowed keys are base_url, bearer_token,"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("(set by HALCYTONE__CHANNELS__TWITTER__BEARER_TOKN)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn relative_paths_in_a_config_file_are_relative_to_the_file() {
    let directory = scratch("relative-paths");
    let team = directory.join("team");
    std::fs::create_dir_all(&team).unwrap();
    std::fs::copy(
        root().join("examples/living-document.md"),
        team.join("living.md"),
    )
    .unwrap();
    std::fs::write(
        team.join("halcytone.toml"),
        "data_dir = \"state\"\n[source]\npath = \"living.md\"\n",
    )
    .unwrap();
    let output = run(
        &directory,
        &[
            "--config",
            "team/halcytone.toml",
            "generate",
            "--period",
            "day",
            "--start",
            "2026-11-30",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(team.join("state").is_dir(), "data_dir is team/state");
    assert!(!directory.join("state").exists());
}

#[test]
fn channels_lists_publishers_sources_and_their_state() {
    let directory = scratch("channels");
    let output = run(
        &directory,
        &["channels"],
        &[("HALCYTONE__CHANNELS__TWITTER__BEARER_TOKEN", "x")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("twitter   configured"), "{text}");
    assert!(
        text.contains("email     not configured, previews only (set channels.email.base_url"),
        "{text}"
    );
    assert!(text.contains("markdown"), "{text}");
    assert!(text.contains("gdocs") && text.contains("notion"), "{text}");
}

#[test]
fn templates_can_be_overridden_from_a_directory() {
    let directory = scratch("templates");
    std::fs::create_dir_all(directory.join("my-templates/twitter")).unwrap();
    std::fs::write(
        directory.join("my-templates/twitter/post.hbs"),
        "New: {{item.title}}",
    )
    .unwrap();
    let plan = plan_json(&directory, &[("HALCYTONE__TEMPLATES__DIR", "my-templates")]);
    let tweet = plan["posts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|post| post["channel"] == "twitter")
        .unwrap();
    assert!(
        tweet["content"]["parts"][0]
            .as_str()
            .unwrap()
            .starts_with("New: "),
        "{tweet}"
    );
}

#[test]
fn the_example_configuration_file_works_with_config() {
    // The example as a team would use it: copied beside its document, run
    // from elsewhere.
    let directory = scratch("config-file");
    let team = directory.join("team");
    std::fs::create_dir_all(&team).unwrap();
    for file in ["halcytone.toml", "living-document.md"] {
        std::fs::copy(root().join("examples").join(file), team.join(file)).unwrap();
    }
    let output = run(
        &directory,
        &[
            "--config",
            "team/halcytone.toml",
            "generate",
            "--period",
            "day",
            "--start",
            "2026-11-30",
            "--json",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["timezone"], "Europe/London");
    assert_eq!(plan["stored"]["inserted"].as_array().unwrap().len(), 5);
    assert!(
        team.join("data/halcytone.db").is_file(),
        "the store is in team/data"
    );
}

#[test]
fn a_plan_says_what_changed_and_an_unreachable_source_falls_back_to_the_last_good_copy() {
    let directory = scratch("last-good");
    let document = directory.join("doc.md");
    let plan = |extra: &[(&str, &str)]| {
        let output = run(
            &directory,
            &[
                "generate",
                "--period",
                "day",
                "--start",
                "2026-11-30",
                "--doc",
                "doc.md",
                "--dry-run",
                "--json",
            ],
            extra,
        );
        (
            output.status.code(),
            serde_json::from_slice::<Value>(&output.stdout).unwrap_or(Value::Null),
            stderr(&output),
        )
    };
    std::fs::write(
        &document,
        "## Breathscape\n### Kept\nSame.\n### Edited\nOld.\n### Removed\nBye.\n",
    )
    .unwrap();
    let (code, first, _) = plan(&[]);
    assert_eq!(code, Some(0));
    assert!(
        first.get("changes").is_none(),
        "nothing to compare the first reading with: {first}"
    );
    assert!(directory.join("data/last-good-document.json").is_file());

    std::fs::write(
        &document,
        "## Breathscape\n### Added\nHi.\n\n### Kept\nSame.\n### Edited\nNew.\n",
    )
    .unwrap();
    let (code, second, _) = plan(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        second["changes"],
        serde_json::json!({"new": ["breathscape/added"], "changed": ["breathscape/edited"], "gone": ["breathscape/removed"]})
    );

    // The document is gone: the plan is made from the last good copy, with a warning.
    std::fs::remove_file(&document).unwrap();
    let (code, fallback, message) = plan(&[]);
    assert_eq!(code, Some(0), "{message}");
    assert_eq!(
        fallback["posts"].as_array().unwrap().len(),
        second["posts"].as_array().unwrap().len()
    );
    let warning = fallback["warnings"][0].as_str().unwrap();
    assert!(
        warning.starts_with("cannot read doc.md")
            && warning.contains("planning from the last good copy"),
        "{warning}"
    );

    // An invalid document is an error, never silently replaced by the last good copy.
    std::fs::write(
        &document,
        "## Breathscape\n### Broken\nChannels: emial\n\nBody.\n",
    )
    .unwrap();
    let (code, _, message) = plan(&[]);
    assert_eq!(code, Some(1));
    assert!(message.contains("unknown channel `emial`"), "{message}");
}

#[test]
fn doctor_checks_the_store_and_never_shows_its_password() {
    let directory = scratch("doctor");
    let output = run(&directory, &["doctor"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = stdout(&output);
    assert!(report.contains("Configuration: ok"), "{report}");
    assert!(report.contains("Store (SQLite): ok, 0 posts"), "{report}");
    assert!(report.contains("Living document"), "{report}");

    // Nothing listens on port 1: the store cannot be reached.
    let output = run(
        &directory,
        &["doctor"],
        &[(
            "HALCYTONE__STORE__URL",
            "postgres://halcytone:hunter2-secret@127.0.0.1:1/halcytone",
        )],
    );
    assert_eq!(output.status.code(), Some(1));
    let (report, errors) = (stdout(&output), stderr(&output));
    assert!(
        report.contains("Store: not usable (store: error communicating with database"),
        "{report}"
    );
    assert!(
        errors.contains("error communicating with database"),
        "{errors}"
    );
    assert!(!report.contains("hunter2") && !errors.contains("hunter2"));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let directory = scratch("closed-pipe");
    let mut command = Command::new(halcytone());
    command
        .args(["generate", "--period", "month", "--dry-run", "--json"])
        .current_dir(&directory)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("HALCYTONE")) {
        command.env_remove(name);
    }
    let mut child = command.spawn().expect("halcytone runs");
    // The reader goes away before the plan (hundreds of KiB) is written, as `| head` does.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("halcytone ends");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

#[test]
fn past_slots_are_named_and_a_pass_that_can_send_nothing_fails() {
    let directory = scratch("nothing-configured");
    let scheduled = [("HALCYTONE__APPROVAL__REQUIRED", "false")];
    let output = run(
        &directory,
        &["generate", "--period", "day", "--start", "2020-01-06"],
        &scheduled,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(
            "5 posts are planned in the past (the first at 2020-01-06 09:00 UTC): once approved they go out at once"
        ),
        "{}",
        stdout(&output)
    );
    // Every post is due, and no channel has credentials.
    let output = run(&directory, &["publish", "--due"], &scheduled);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("nothing was sent: 5 due posts wait on channels that cannot send"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output)
            .contains("twitter: 2 due posts wait: not configured (set channels.twitter."),
        "{}",
        stdout(&output)
    );
}

fn stored_posts(directory: &Path) -> Vec<Value> {
    let output = run(directory, &["posts", "list", "--json"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn overlapping_plans_never_schedule_an_item_twice_on_a_channel() {
    let directory = scratch("overlap");
    for arguments in [
        ["generate", "--period", "week", "--start", "2026-11-30"],
        ["generate", "--period", "2d", "--start", "2026-12-01"],
        ["generate", "--period", "week", "--start", "2026-12-03"],
    ] {
        let output = run(&directory, &arguments, &[]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let posts = stored_posts(&directory);
    let mut seen = std::collections::HashSet::new();
    for post in &posts {
        let key = (
            post["channel"].as_str().unwrap().to_owned(),
            post["item"]["id"].as_str().unwrap().to_owned(),
        );
        assert!(seen.insert(key.clone()), "{key:?} is planned twice");
    }
    assert!(
        posts.len() > 25,
        "the later week adds posts: {}",
        posts.len()
    );
}

#[test]
fn a_persons_edit_survives_a_replan_as_a_conflict_and_revert_takes_the_document() {
    let directory = scratch("edit-kept");
    let document = std::fs::read_to_string(root().join("examples/living-document.md")).unwrap();
    std::fs::write(directory.join("doc.md"), &document).unwrap();
    let generate = |directory: &Path| {
        let output = run(
            directory,
            &[
                "generate",
                "--doc",
                "doc.md",
                "--period",
                "week",
                "--start",
                "2026-11-30",
                "--json",
            ],
            &[],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let plan = generate(&directory);
    let plan_id = plan["plan_id"].as_str().unwrap().to_owned();
    let newsletter = plan["posts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|post| post["channel"] == "email")
        .unwrap();
    let id = newsletter["id"].as_str().unwrap().to_owned();
    let subject = newsletter["content"]["subject"]
        .as_str()
        .unwrap()
        .to_owned();

    // The person edits the subject in their editor, by a unique prefix.
    let prefix = &id[..12];
    let output = run(
        &directory,
        &["posts", "edit", prefix],
        &[("EDITOR", r#"sed -i 's/"subject": "/"subject": "Edited: /'"#)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("{id}: edited; now draft\n"));
    let output = run(&directory, &["posts", "approve", "--plan", &plan_id], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 25, "{}", stdout(&output));

    // The document changes under the edit and the approvals.
    std::fs::write(
        directory.join("doc.md"),
        document.replace(
            "Start with five minutes before coffee.",
            "Start with three minutes before coffee.",
        ),
    )
    .unwrap();
    let again = generate(&directory);
    let stored = &again["stored"];
    assert_eq!(stored["conflicts"], serde_json::json!([id]));
    let voided = stored["voided"].as_array().unwrap();
    assert!(!voided.is_empty(), "{stored:#}");
    assert!(!voided.contains(&Value::from(id.as_str())), "{stored:#}");
    let output = run(
        &directory,
        &[
            "generate",
            "--doc",
            "doc.md",
            "--period",
            "week",
            "--start",
            "2026-11-30",
        ],
        &[],
    );
    let text = stdout(&output);
    assert!(text.contains(&format!("edit kept: {id}")), "{text}");

    let output = run(&directory, &["posts", "show", &id, "--json"], &[]);
    let post: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(post["content"]["subject"], format!("Edited: {subject}"));
    assert_eq!(
        post["status"], "approved",
        "the approval of the edit stands"
    );
    assert!(
        post["conflict"]["content"]["html"]
            .as_str()
            .unwrap()
            .contains("three minutes"),
        "{post:#}"
    );
    let output = run(&directory, &["posts", "show", &id], &[]);
    let shown = stdout(&output);
    assert!(
        shown.contains(&format!("subject: Edited: {subject}")),
        "{shown}"
    );
    assert!(shown.contains("the document's newer version"), "{shown}");
    assert!(
        !shown.contains("\\n"),
        "content is shown as written: {shown}"
    );

    let output = run(&directory, &["posts", "revert", prefix], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("{id}: approved → draft\n"));
    let output = run(&directory, &["posts", "show", &id, "--json"], &[]);
    let post: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(post["content"]["subject"], subject.as_str());
    assert_eq!(post["conflict"], Value::Null);
    assert_eq!(post["edited_at"], Value::Null);
    let output = run(&directory, &["posts", "revert", &id], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("has no edit to revert"),
        "{}",
        stderr(&output)
    );
    let output = run(&directory, &["posts", "show", "post_"], &[]);
    assert!(
        stderr(&output).contains("give more of the id"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_daily_cap_leaves_slots_out_of_the_plan_and_channels_shows_what_is_left() {
    let directory = scratch("daily-cap");
    let capped = [("HALCYTONE__CHANNELS__TWITTER__DAILY_CAP", "1")];
    let plan = plan_json(&directory, &capped);
    let tweets: Vec<&Value> = plan["posts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|post| post["channel"] == "twitter")
        .collect();
    // 09:00 and 17:00 every day: 17:00 is within 24 hours of 09:00.
    assert_eq!(tweets.len(), 7, "{tweets:#?}");
    let left_out: Vec<&str> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|warning| warning.starts_with("left out twitter at"))
        .collect();
    assert_eq!(left_out.len(), 7, "{:#?}", plan["warnings"]);
    assert!(
        left_out[0].starts_with("left out twitter at Mon 2026-11-30 17:00 UTC: the channel's daily_cap of 1 post in 24 hours is reached there"),
        "{left_out:?}"
    );

    let output = run(&directory, &["channels", "--json"], &capped);
    assert!(output.status.success(), "{}", stderr(&output));
    let channels: Value = serde_json::from_slice(&output.stdout).unwrap();
    let twitter = channels["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|channel| channel["channel"] == "twitter")
        .unwrap();
    assert_eq!(twitter["daily_cap"], 1);
    assert_eq!(twitter["daily_cap_remaining"], 1);
    let output = run(&directory, &["channels"], &capped);
    assert!(
        stdout(&output).contains(", daily cap 1 (1 left)"),
        "{}",
        stdout(&output)
    );

    // X's own free-tier cap is the default; 0 turns it off.
    let output = run(&directory, &["channels", "--json"], &[]);
    let channels: Value = serde_json::from_slice(&output.stdout).unwrap();
    let cap = |channels: &Value, name: &str| {
        channels["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|channel| channel["channel"] == name)
            .unwrap()["daily_cap"]
            .clone()
    };
    assert_eq!(cap(&channels, "twitter"), 17);
    assert_eq!(cap(&channels, "linkedin"), Value::Null);
    let output = run(
        &directory,
        &["channels", "--json"],
        &[("HALCYTONE__CHANNELS__TWITTER__DAILY_CAP", "0")],
    );
    let channels: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cap(&channels, "twitter"), Value::Null);
}
