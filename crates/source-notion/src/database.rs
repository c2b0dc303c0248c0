//! A Notion database (a content calendar) to a living document: one item per
//! row, its title from the title property, its section from the section
//! property (sections in the order their first row comes), `Channels:`,
//! `Date:`, `Priority:`, `Tags:` and `Link:` from the configured properties,
//! and the row page's blocks as its body.
//!
//! Everything goes through the shared [`DocumentBuilder`], so a database
//! obeys the same rules, and gets the same messages, as a Markdown file.

use halcytone_core::document::{DocumentBuilder, KnownChannels, Location, ParsedDocument};
use halcytone_core::source::SourceError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::PropertyNames;
use crate::parse::{Block, item_body};

/// A rich-text run, of which a title only needs the text.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PlainText {
    #[serde(default)]
    plain_text: String,
}

/// `GET /v1/databases/{id}`: the fields read.
#[derive(Debug, Deserialize)]
pub(crate) struct DatabaseObject {
    /// `database`.
    pub(crate) object: String,
    /// The database's title.
    #[serde(default)]
    pub(crate) title: Vec<PlainText>,
    /// Its data sources (Notion-Version 2025-09-03 and later).
    #[serde(default)]
    pub(crate) data_sources: Vec<DataSourceRef>,
}

impl DatabaseObject {
    /// The title as text.
    pub(crate) fn title_text(&self) -> String {
        plain(&self.title)
    }
}

/// One entry of a database's `data_sources`.
#[derive(Debug, Deserialize)]
pub(crate) struct DataSourceRef {
    /// The data source id.
    pub(crate) id: String,
    /// Its name.
    #[serde(default)]
    pub(crate) name: String,
}

/// A page object of `POST /v1/data_sources/{id}/query`: one row.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct RowPage {
    /// The row's page id, which is also the block id of its body.
    pub(crate) id: String,
    #[serde(default)]
    in_trash: bool,
    #[serde(default, skip_serializing)]
    archived: bool,
    /// Property name → property value object.
    #[serde(default)]
    properties: serde_json::Map<String, Value>,
}

impl RowPage {
    /// Whether the row was deleted; such rows are skipped.
    pub(crate) fn trashed(&self) -> bool {
        self.in_trash || self.archived
    }

    fn location(&self) -> Location {
        Location::Element(format!("row {}", self.id))
    }

    /// The property called `name`, or else one whose name differs only in case.
    fn property(&self, name: &str) -> Option<&Value> {
        if name.is_empty() {
            return None;
        }
        self.properties.get(name).or_else(|| {
            self.properties
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        })
    }

    fn has_property(&self, name: &str) -> bool {
        self.property(name).is_some()
    }

    /// The title property: by name, else the row's one `title` property.
    fn title_property(&self, name: &str) -> Option<&Value> {
        self.property(name).or_else(|| {
            self.properties
                .values()
                .find(|value| value.get("type").and_then(Value::as_str) == Some("title"))
        })
    }
}

/// A row with its body blocks (children attached), as fetched.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    /// The row's page.
    pub(crate) page: RowPage,
    /// The blocks of the row's page.
    pub(crate) body: Vec<Block>,
}

/// What the database looks like besides its rows.
#[derive(Debug)]
pub(crate) struct DatabaseInfo<'a> {
    /// The database id, to name it in messages.
    pub(crate) id: &'a str,
    /// The database's title, the document title when not empty.
    pub(crate) title: String,
    /// Warnings found while fetching (several data sources).
    pub(crate) warnings: Vec<String>,
}

/// Turns the rows of a database into a living document.
///
/// # Errors
/// [`SourceError::Document`] listing every problem, each with its row
/// (`row 2b1c…`), or naming the database for a property no row has.
pub(crate) fn parse_rows(
    source_name: &str,
    database: &DatabaseInfo<'_>,
    rows: &[Row],
    names: &PropertyNames,
    known_channels: &KnownChannels,
) -> Result<ParsedDocument, SourceError> {
    let mut builder = DocumentBuilder::new(source_name, known_channels);
    builder.hash_source(database.title.as_bytes());
    builder.hash_source(&serde_json::to_vec(rows).unwrap_or_default());
    let here = Location::Element(format!("database {}", database.id));
    for warning in &database.warnings {
        builder.warn(here.clone(), warning.clone());
    }
    if !database.title.trim().is_empty() {
        builder.title(&database.title, here.clone());
    }
    let rows: Vec<&Row> = rows.iter().filter(|row| !row.page.trashed()).collect();
    if let Some(first) = rows.first()
        && !check_properties(&mut builder, &here, &first.page, names)
    {
        return builder.finish().map_err(SourceError::from);
    }

    // Group the rows by section, sections in the order their first row comes.
    let mut sections: Vec<(String, Vec<&Row>)> = Vec::new();
    for row in rows {
        let location = row.page.location();
        match text(row.page.property(&names.section), &names.section) {
            Ok(Some(name)) => match sections.iter_mut().find(|(seen, _)| *seen == name) {
                Some((_, members)) => members.push(row),
                None => sections.push((name, vec![row])),
            },
            Ok(None) => builder.error(
                location,
                format!(
                    "the `{}` property is empty: give the row a section",
                    names.section
                ),
            ),
            Err(message) => builder.error(location, message),
        }
    }
    for (name, members) in &sections {
        if let Some(first) = members.first() {
            builder.section(name, first.page.location());
        }
        for row in members {
            item(&mut builder, row, names);
        }
    }
    builder.finish().map_err(SourceError::from)
}

/// Checks that the rows have the configured properties: no title or section
/// property is an error, a missing optional one a warning. Returns whether
/// the rows can be read.
fn check_properties(
    builder: &mut DocumentBuilder<'_>,
    here: &Location,
    page: &RowPage,
    names: &PropertyNames,
) -> bool {
    let available = || {
        let names: Vec<&str> = page.properties.keys().map(String::as_str).collect();
        names.join(", ")
    };
    let mut readable = true;
    if page.title_property(&names.title).is_none() {
        builder.error(
            here.clone(),
            format!(
                "the rows have no `{}` property and no title property (their properties: {}): \
                 set source.properties.title",
                names.title,
                available()
            ),
        );
        readable = false;
    }
    if !page.has_property(&names.section) {
        builder.error(
            here.clone(),
            format!(
                "the rows have no `{}` property (their properties: {}): set \
                 source.properties.section to the property that names each row's section",
                names.section,
                available()
            ),
        );
        readable = false;
    }
    let optional = [
        (
            "channels",
            &names.channels,
            "every item goes to every channel",
        ),
        ("date", &names.date, "items have no date"),
        ("priority", &names.priority, "items have normal priority"),
        ("tags", &names.tags, "items have no tags"),
        ("link", &names.link, "items have no link"),
        (
            "segments",
            &names.segments,
            "items go in every segment's issue",
        ),
        ("subject_b", &names.subject_b, "items have no `Subject B:`"),
        ("hook_b", &names.hook_b, "items have no `Hook B:`"),
    ];
    for (key, name, consequence) in optional {
        if !name.is_empty() && !page.has_property(name) {
            builder.warn(
                here.clone(),
                format!(
                    "the rows have no `{name}` property, so {consequence}: set \
                     source.properties.{key} to the property's name, or to \"\" to not read it"
                ),
            );
        }
    }
    readable
}

/// One row as one item: title, metadata lines, body.
fn item(builder: &mut DocumentBuilder<'_>, row: &Row, names: &PropertyNames) {
    let page = &row.page;
    let location = page.location();
    let title = match text(page.title_property(&names.title), &names.title) {
        Ok(Some(title)) => title,
        Ok(None) => {
            builder.error(
                location,
                format!(
                    "the row has no title (its `{}` property is empty)",
                    names.title
                ),
            );
            return;
        }
        Err(message) => {
            builder.error(location, message);
            return;
        }
    };
    builder.item(&title, location.clone());
    let fields = [
        ("Channels", &names.channels),
        ("Date", &names.date),
        ("Priority", &names.priority),
        ("Tags", &names.tags),
        ("Link", &names.link),
        ("Segments", &names.segments),
        ("Subject B", &names.subject_b),
        ("Hook B", &names.hook_b),
    ];
    for (key, name) in fields {
        match text(page.property(name), name) {
            Ok(Some(value)) => {
                let value = if key == "Date" {
                    date_part(&value)
                } else {
                    value
                };
                builder.metadata_line(&format!("{key}: {value}"), location.clone());
            }
            Ok(None) => {}
            Err(message) => builder.error(location.clone(), message),
        }
    }
    item_body(builder, &row.body);
}

/// The date of a date or date-time start: `2026-12-02T09:00:00.000+02:00`
/// is `2026-12-02`, the day as written.
fn date_part(value: &str) -> String {
    match (value.get(..10), value.get(10..11)) {
        (Some(date), Some("T")) => date.to_owned(),
        _ => value.to_owned(),
    }
}

fn plain(runs: &[PlainText]) -> String {
    runs.iter().map(|run| run.plain_text.as_str()).collect()
}

/// A property value as one line of text; `None` when it is empty.
///
/// Titles and text give their text, selects and statuses their option name,
/// multi-selects their option names joined by `, `, dates their start, URLs,
/// e-mails, phone numbers, numbers, checkboxes and formulas their value.
fn text(property: Option<&Value>, name: &str) -> Result<Option<String>, String> {
    let Some(property) = property else {
        return Ok(None);
    };
    let kind = property.get("type").and_then(Value::as_str).unwrap_or("");
    let payload = property.get(kind).unwrap_or(&Value::Null);
    let shape_error = || {
        format!("the `{name}` property (`{kind}`) does not have the shape the Notion API documents")
    };
    let value = match kind {
        "title" | "rich_text" => {
            let runs: Vec<PlainText> =
                serde_json::from_value(payload.clone()).map_err(|_| shape_error())?;
            Some(plain(&runs))
        }
        "select" | "status" => match payload {
            Value::Null => None,
            option => Some(option_name(option).ok_or_else(shape_error)?),
        },
        "multi_select" => {
            let options = payload.as_array().ok_or_else(shape_error)?;
            let names = options
                .iter()
                .map(|option| option_name(option).ok_or_else(shape_error))
                .collect::<Result<Vec<_>, _>>()?;
            Some(names.join(", "))
        }
        "date" => match payload {
            Value::Null => None,
            date => Some(
                date.get("start")
                    .and_then(Value::as_str)
                    .ok_or_else(shape_error)?
                    .to_owned(),
            ),
        },
        "url" | "email" | "phone_number" | "string" | "created_time" | "last_edited_time" => {
            match payload {
                Value::Null => None,
                Value::String(text) => Some(text.clone()),
                _ => return Err(shape_error()),
            }
        }
        "number" | "checkbox" | "boolean" => match payload {
            Value::Null => None,
            Value::Number(_) | Value::Bool(_) => Some(payload.to_string()),
            _ => return Err(shape_error()),
        },
        // `{"type": "formula", "formula": {"type": "string", "string": "…"}}`.
        "formula" => text(Some(payload), name)?,
        other => {
            return Err(format!(
                "the `{name}` property is a `{other}` property, which cannot be read as text: \
                 use a title, text, select, multi-select, date or URL property"
            ));
        }
    };
    // One line: a newline in a text property would end the metadata line.
    Ok(value
        .map(|value| value.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|value| !value.is_empty()))
}

fn option_name(option: &Value) -> Option<String> {
    option
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use halcytone_core::channel::Channel;
    use serde_json::json;

    use super::*;

    fn known() -> KnownChannels {
        KnownChannels::new(["email", "web", "linkedin"].map(|name| Channel::parse(name).unwrap()))
    }

    fn paragraph(id: &str, content: &str) -> Value {
        json!({"object": "block", "id": id, "type": "paragraph", "has_children": false,
               "paragraph": {"rich_text": [{"type": "text", "plain_text": content}]}})
    }

    fn row(id: &str, properties: Value, body: Vec<Value>) -> Row {
        Row {
            page: serde_json::from_value(
                json!({"object": "page", "id": id, "properties": properties}),
            )
            .unwrap(),
            body: serde_json::from_value(Value::Array(body)).unwrap(),
        }
    }

    fn title(text: &str) -> Value {
        json!({"id": "title", "type": "title", "title": [{"type": "text", "plain_text": text}]})
    }

    fn select(name: Option<&str>) -> Value {
        json!({"id": "s", "type": "select", "select": name.map(|name| json!({"id": "o", "name": name, "color": "blue"}))})
    }

    fn multi(names: &[&str]) -> Value {
        let options: Vec<Value> = names
            .iter()
            .map(|name| json!({"id": "o", "name": name}))
            .collect();
        json!({"id": "m", "type": "multi_select", "multi_select": options})
    }

    fn info(warnings: Vec<String>) -> DatabaseInfo<'static> {
        DatabaseInfo {
            id: "db-1",
            title: "Calendar".to_owned(),
            warnings,
        }
    }

    fn parse(rows: &[Row]) -> Result<ParsedDocument, SourceError> {
        parse_rows(
            "db",
            &info(Vec::new()),
            rows,
            &PropertyNames::default(),
            &known(),
        )
    }

    fn errors(rows: &[Row]) -> Vec<String> {
        match parse(rows) {
            Err(SourceError::Document(error)) => {
                error.errors.iter().map(ToString::to_string).collect()
            }
            other => panic!("expected document errors, got {other:?}"),
        }
    }

    fn full(id: &str, name: &str, section: &str) -> Value {
        json!({
            "Name": title(name),
            "Section": select(Some(section)),
            "Channels": multi(&["Email", "LinkedIn"]),
            "Publish date": {"id": "d", "type": "date", "date": {"start": "2026-12-02T09:00:00.000+02:00", "end": null, "time_zone": null}},
            "Priority": {"id": "p", "type": "status", "status": {"id": "o", "name": "High"}},
            "Tags": multi(&["launch", "#sleep"]),
            "Link": {"id": "l", "type": "url", "url": format!("https://x.example/{id}")},
        })
    }

    #[test]
    fn a_segments_property_keeps_a_row_to_those_segments_when_named() {
        let mut properties = full("r1", "Welcome back", "News");
        properties["Audience"] = multi(&["Lapsed", "new"]);
        let rows = [row("r1", properties, vec![paragraph("b1", "Body.")])];
        let names = PropertyNames {
            segments: "Audience".to_owned(),
            ..PropertyNames::default()
        };
        let parsed = parse_rows("db", &info(Vec::new()), &rows, &names, &known()).unwrap();
        let item = parsed.document.items().next().unwrap();
        assert_eq!(
            item.segments,
            Some(std::collections::BTreeSet::from([
                "lapsed".to_owned(),
                "new".to_owned()
            ]))
        );
        // Not named (the default): not read, and no warning.
        let parsed = parse(&rows).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(parsed.document.items().next().unwrap().segments, None);
    }

    #[test]
    fn subject_b_and_hook_b_properties_make_experiments_when_named() {
        let rich = |text: &str| json!({"id": "r", "type": "rich_text", "rich_text": [{"type": "text", "plain_text": text}]});
        let mut properties = full("r1", "Sleep sounds", "News");
        properties["Subject B"] = rich("Fall asleep to the fade");
        properties["Hook B"] = rich("Your phone can fall asleep too");
        let rows = [row("r1", properties, vec![paragraph("b1", "Body.")])];
        let names = PropertyNames {
            subject_b: "Subject B".to_owned(),
            hook_b: "Hook B".to_owned(),
            ..PropertyNames::default()
        };
        let parsed = parse_rows("db", &info(Vec::new()), &rows, &names, &known()).unwrap();
        let item = parsed.document.items().next().unwrap();
        assert_eq!(item.subject_b.as_deref(), Some("Fall asleep to the fade"));
        assert_eq!(
            item.hook_b.as_deref(),
            Some("Your phone can fall asleep too")
        );
        // Not named (the default): not read, and no warning.
        let parsed = parse(&rows).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let item = parsed.document.items().next().unwrap();
        assert_eq!((&item.subject_b, &item.hook_b), (&None, &None));
        // Named but absent from the rows: a warning naming the setting.
        let names = PropertyNames {
            hook_b: "Opening B".to_owned(),
            ..PropertyNames::default()
        };
        let parsed = parse_rows("db", &info(Vec::new()), &rows, &names, &known()).unwrap();
        assert!(
            parsed
                .warnings
                .iter()
                .any(|warning| warning.to_string().contains("`Opening B`")
                    && warning.to_string().contains("source.properties.hook_b")),
            "{:?}",
            parsed.warnings
        );
    }

    #[test]
    fn rows_become_items_grouped_by_section_in_first_seen_order() {
        let rows = [
            row(
                "r1",
                full("r1", "One", "News"),
                vec![paragraph("b1", "Body one.")],
            ),
            row(
                "r2",
                full("r2", "Two", "Community"),
                vec![paragraph("b2", "Body two.")],
            ),
            row(
                "r3",
                full("r3", "Three", "News"),
                vec![paragraph("b3", "Body three.")],
            ),
        ];
        let parsed = parse(&rows).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(parsed.document.title.as_deref(), Some("Calendar"));
        let items: Vec<(&str, &str)> = parsed
            .document
            .items()
            .map(|item| (item.id.as_str(), item.body.as_str()))
            .collect();
        assert_eq!(
            items,
            [
                ("news/one", "Body one."),
                ("news/three", "Body three."),
                ("community/two", "Body two.")
            ]
        );
        let one = parsed.document.items().next().unwrap();
        assert_eq!(one.tags, ["launch", "sleep"]);
        assert_eq!(
            one.date.map(|date| date.to_string()).as_deref(),
            Some("2026-12-02")
        );
        assert_eq!(one.priority, halcytone_core::document::Priority::High);
        assert_eq!(one.link.as_deref(), Some("https://x.example/r1"));
        assert_eq!(
            one.channels.as_ref().map(|channels| channels.len()),
            Some(2)
        );
        assert_eq!(one.location, Location::Element("row r1".to_owned()));
    }

    #[test]
    fn empty_optional_properties_leave_the_defaults_and_headings_are_sub_headings() {
        let properties = json!({
            "Name": title("One"), "Section": select(Some("News")), "Channels": multi(&[]),
            "Publish date": {"type": "date", "date": null}, "Priority": select(None),
            "Tags": multi(&[]), "Link": {"type": "url", "url": null},
        });
        let heading = json!({"id": "h", "type": "heading_1", "heading_1": {"rich_text": [{"plain_text": "Details"}]}});
        let parsed = parse(&[row(
            "r1",
            properties,
            vec![paragraph("b1", "Tags: not metadata"), heading],
        )])
        .unwrap();
        let item = parsed.document.items().next().unwrap();
        assert_eq!(item.channels, None);
        assert_eq!(item.date, None);
        assert!(item.tags.is_empty() && item.link.is_none());
        assert_eq!(item.body, "Tags: not metadata\n\n#### Details");
    }

    #[test]
    fn bad_values_and_missing_titles_or_sections_name_the_row() {
        let mut bad = full("r1", "One", "News");
        bad["Priority"] = select(Some("Urgent"));
        bad["Channels"] = multi(&["MySpace"]);
        bad["Tags"] = json!({"type": "people", "people": []});
        let mut untitled = full("r2", "", "News");
        untitled["Name"] = title(" ");
        let mut unsorted = full("r3", "Three", "News");
        unsorted["Section"] = select(None);
        let rows = [
            row("r1", bad, vec![paragraph("b1", "Body.")]),
            row("r2", untitled, vec![paragraph("b2", "Body.")]),
            row("r3", unsorted, vec![paragraph("b3", "Body.")]),
            row("r4", full("r4", "Four", "News"), vec![]),
        ];
        assert_eq!(
            errors(&rows),
            [
                "element row r3: the `Section` property is empty: give the row a section",
                "element row r1: unknown channel `MySpace` (known channels: email, linkedin, web)",
                "element row r1: bad priority `Urgent`: expected high, normal or low",
                "element row r1: the `Tags` property is a `people` property, which cannot be read as text: use a title, text, select, multi-select, date or URL property",
                "element row r2: the row has no title (its `Name` property is empty)",
                "element row r4: item `Four` has no body",
            ]
        );
    }

    #[test]
    fn missing_properties_are_errors_or_warnings_naming_the_setting() {
        let rows = [row(
            "r1",
            json!({"Title": title("One"), "Kind": select(Some("News"))}),
            vec![paragraph("b", "Body.")],
        )];
        assert_eq!(
            errors(&rows),
            [
                "element database db-1: the rows have no `Section` property (their properties: Title, Kind): set source.properties.section to the property that names each row's section"
            ]
        );
        let names = PropertyNames {
            section: "kind".to_owned(),
            tags: String::new(),
            ..PropertyNames::default()
        };
        let parsed = parse_rows(
            "db",
            &info(vec!["several".to_owned()]),
            &rows,
            &names,
            &known(),
        )
        .unwrap();
        // The title property is found by type, the section by name in any case.
        assert_eq!(
            parsed.document.items().next().unwrap().id.as_str(),
            "news/one"
        );
        let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 5, "{warnings:?}");
        assert_eq!(warnings[0], "element database db-1: several");
        assert_eq!(
            warnings[1],
            "element database db-1: the rows have no `Channels` property, so every item goes to every channel: set source.properties.channels to the property's name, or to \"\" to not read it"
        );
        assert!(!warnings.iter().any(|warning| warning.contains("Tags")));
    }

    #[test]
    fn formulas_text_and_trashed_rows() {
        let mut properties = full("r1", "One", "News");
        properties["Section"] =
            json!({"type": "formula", "formula": {"type": "string", "string": "News"}});
        properties["Priority"] =
            json!({"type": "rich_text", "rich_text": [{"plain_text": "low\n"}]});
        let mut trashed = row("r2", full("r2", "Two", "News"), vec![]);
        trashed.page.in_trash = true;
        let parsed = parse(&[
            row("r1", properties, vec![paragraph("b", "Body.")]),
            trashed,
        ])
        .unwrap();
        let items: Vec<_> = parsed.document.items().collect();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].priority, halcytone_core::document::Priority::Low);
        assert_eq!(date_part("2026-12-02"), "2026-12-02");
    }

    #[test]
    fn the_revision_follows_properties_and_bodies() {
        let revision = |section: &str, body: &str| {
            parse(&[row(
                "r1",
                full("r1", "One", section),
                vec![paragraph("b", body)],
            )])
            .unwrap()
            .document
            .revision
        };
        assert_eq!(revision("News", "A."), revision("News", "A."));
        assert_ne!(revision("News", "A."), revision("Other", "A."));
        assert_ne!(revision("News", "A."), revision("News", "B."));
    }
}
