//! The template engine: handlebars templates from `templates/<channel>/`
//! (and `templates/<channel>/<locale>/` for a language's own), compiled
//! once at start, with the helpers every channel uses.

use std::path::Path;
use std::sync::Arc;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, JsonRender, Output, RenderContext, RenderErrorReason,
};
use serde::Serialize;

use crate::locale::{DEFAULT_LOCALE, DateStyle, Locale, LocaleError};
use crate::text::markdown_to_html;

/// The key under which every render's data carries its locale's code.
const LOCALE_KEY: &str = "locale";

#[derive(rust_embed::Embed)]
#[folder = "../../templates/"]
#[include = "*.hbs"]
struct BundledTemplates;

/// A template that cannot be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template file does not compile.
    #[error("template `{name}` does not compile: {message}")]
    Template {
        /// The template name, such as `email/body.html`.
        name: String,
        /// The parser's message.
        message: String,
    },
    /// The override directory cannot be read.
    #[error("templates directory {path}: {message}")]
    Directory {
        /// The directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A template failed while rendering.
    #[error("template `{name}`: {message}")]
    Render {
        /// The template name.
        name: String,
        /// The renderer's message.
        message: String,
    },
}

/// Compiled templates, rendering in one locale.
///
/// A template named `<channel>/<name>.html.hbs` renders with HTML escaping;
/// every other template renders plain text. Templates come from the bundled
/// `templates/` folder; a file of the same name in the override directory
/// replaces the bundled one. In locale `de-AT`, `email/subject` renders
/// `email/de-AT/subject`, else `email/de/subject`, else `email/subject`;
/// every template sees `locale` (`de-AT`) and `language` (`de`), and
/// `date` and `number` write in the locale's words.
#[derive(Clone)]
pub struct Renderer {
    templates: Arc<Templates>,
    locale: Locale,
}

struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self
            .templates
            .html
            .get_templates()
            .keys()
            .chain(self.templates.text.get_templates().keys())
            .collect();
        names.sort();
        formatter
            .debug_struct("Renderer")
            .field("locale", &self.locale.code())
            .field("templates", &names)
            .finish()
    }
}

/// Helpers made by `handlebars_helper!`, which declares public structs.
#[allow(missing_docs, unreachable_pub)]
mod simple_helpers {
    use handlebars::handlebars_helper;

    use crate::text::{hashtag, truncate_on_word};

    handlebars_helper!(excerpt_helper: |text: str, max: u64| truncate_on_word(text, usize::try_from(max).unwrap_or(usize::MAX)));
    handlebars_helper!(hashtag_helper: |tag: str| hashtag(tag).unwrap_or_default());
}
use simple_helpers::{excerpt_helper, hashtag_helper};

/// `{{{markdown body}}}`: Markdown to sanitised HTML.
fn markdown_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let markdown = helper
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("markdown", 0))?
        .value()
        .render();
    out.write(&markdown_to_html(&markdown))?;
    Ok(())
}

/// The locale a render is in: the `locale` every render's data carries.
fn render_locale(context: &Context) -> Result<Locale, RenderErrorReason> {
    let code = context
        .data()
        .get(LOCALE_KEY)
        .and_then(serde_json::Value::as_str)
        .unwrap_or(DEFAULT_LOCALE);
    Locale::parse(code).map_err(|error| RenderErrorReason::Other(error.to_string()))
}

/// `{{date scheduled_at "long"}}`: an RFC 9557 / RFC 3339 timestamp or a
/// `YYYY-MM-DD` date in the render's locale, in one of the styles of
/// [`DateStyle`] (`full`, `long`, `medium`, `short`, `time`); a format
/// with `%` is strftime, whose names are English whatever the locale.
fn date_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    context: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = helper
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("date", 0))?
        .value()
        .render();
    let format = helper
        .param(1)
        .map_or_else(|| "%Y-%m-%d".to_owned(), |format| format.value().render());
    let moment = if let Ok(zoned) = value.parse::<jiff::ZonedDateTime>() {
        zoned.datetime()
    } else if let Ok(date) = value.parse::<jiff::civil::Date>() {
        date.to_datetime(jiff::civil::Time::midnight())
    } else {
        return Err(RenderErrorReason::Other(format!(
            "date: `{value}` is not a date or timestamp"
        ))
        .into());
    };
    let formatted = if format.contains('%') {
        moment.strftime(&format).to_string()
    } else {
        let style: DateStyle = format
            .parse()
            .map_err(|error: LocaleError| RenderErrorReason::Other(format!("date: {error}")))?;
        render_locale(context)?.format_datetime(moment, style)
    };
    out.write(&formatted)?;
    Ok(())
}

/// `{{number count}}`: a number with the render's locale's separators
/// (`12,345.5` in `en`, `12.345,5` in `de`).
fn number_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    context: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = helper
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("number", 0))?
        .value();
    let text = value.render();
    let formatted = render_locale(context)?
        .format_number(&text)
        .map_err(|error| RenderErrorReason::Other(format!("number: {error}")))?;
    out.write(&formatted)?;
    Ok(())
}

fn new_registry(escape_html: bool) -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    if !escape_html {
        registry.register_escape_fn(handlebars::no_escape);
    }
    registry.register_helper("excerpt", Box::new(excerpt_helper));
    registry.register_helper("hashtag", Box::new(hashtag_helper));
    registry.register_helper("markdown", Box::new(markdown_helper));
    registry.register_helper("date", Box::new(date_helper));
    registry.register_helper("number", Box::new(number_helper));
    registry
}

impl Renderer {
    /// Compiles the bundled templates, then those of `override_dir`.
    ///
    /// # Errors
    /// Returns the first template that does not compile, or an unreadable directory.
    /// It renders in [`DEFAULT_LOCALE`] until [`Renderer::in_locale`] says otherwise.
    pub fn new(override_dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut templates = Templates {
            html: new_registry(true),
            text: new_registry(false),
        };
        for file in BundledTemplates::iter() {
            if let Some(template) = BundledTemplates::get(&file) {
                let source = String::from_utf8_lossy(&template.data);
                templates.register(&file, &source)?;
            }
        }
        if let Some(directory) = override_dir {
            templates.register_directory(directory, directory)?;
        }
        Ok(Self {
            templates: Arc::new(templates),
            locale: Locale::default(),
        })
    }

    /// The same templates, rendering in `locale`.
    pub fn in_locale(&self, locale: Locale) -> Self {
        Self {
            templates: Arc::clone(&self.templates),
            locale,
        }
    }

    /// Whether a template `name` (such as `enhance/twitter`) exists.
    pub fn has_template(&self, name: &str) -> bool {
        self.templates.has(name)
    }

    /// The BCP 47 code of the locale it renders in.
    pub fn locale(&self) -> &str {
        self.locale.code()
    }

    /// Renders the template `name` (such as `twitter/post` or
    /// `email/body.html`), the locale's own when it has one.
    ///
    /// # Errors
    /// Returns an unknown template, or a render failure such as a missing variable.
    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> Result<String, RenderError> {
        let render_error = |message: String| RenderError::Render {
            name: name.to_owned(),
            message,
        };
        let mut data =
            serde_json::to_value(data).map_err(|error| render_error(error.to_string()))?;
        if let Some(fields) = data.as_object_mut() {
            fields.insert(LOCALE_KEY.to_owned(), self.locale.code().into());
            fields.insert("language".to_owned(), self.locale.language().into());
        }
        let name = self.localized_name(name);
        self.templates.render(&name, &Context::from(data))
    }

    /// `channel/<locale>/rest` for the locale or its language when that
    /// template exists, else `name`.
    fn localized_name(&self, name: &str) -> String {
        if let Some((channel, rest)) = name.split_once('/') {
            for tag in self.locale.fallbacks() {
                let candidate = format!("{channel}/{tag}/{rest}");
                if self.templates.has(&candidate) {
                    return candidate;
                }
            }
        }
        name.to_owned()
    }
}

impl Templates {
    fn register_directory(&mut self, root: &Path, directory: &Path) -> Result<(), RenderError> {
        let directory_error = |error: std::io::Error| RenderError::Directory {
            path: directory.display().to_string(),
            message: error.to_string(),
        };
        let mut entries: Vec<_> = std::fs::read_dir(directory)
            .map_err(directory_error)?
            .collect::<Result<_, _>>()
            .map_err(directory_error)?;
        entries.sort_by_key(std::fs::DirEntry::path);
        for entry in entries {
            let path = entry.path();
            if path.is_dir() {
                self.register_directory(root, &path)?;
            } else if path.extension().is_some_and(|extension| extension == "hbs") {
                let source = std::fs::read_to_string(&path).map_err(directory_error)?;
                let relative = path.strip_prefix(root).unwrap_or(&path);
                let file = relative.to_string_lossy().replace('\\', "/");
                self.register(&file, &source)?;
            }
        }
        Ok(())
    }

    fn register(&mut self, file: &str, source: &str) -> Result<(), RenderError> {
        let name = file.trim_end_matches(".hbs");
        let registry = if name.ends_with(".html") {
            &mut self.html
        } else {
            &mut self.text
        };
        registry
            .register_template_string(name, source)
            .map_err(|error| RenderError::Template {
                name: name.to_owned(),
                message: error.to_string(),
            })
    }

    fn has(&self, name: &str) -> bool {
        self.html.has_template(name) || self.text.has_template(name)
    }

    fn render(&self, name: &str, context: &Context) -> Result<String, RenderError> {
        let registry = if self.html.has_template(name) {
            &self.html
        } else {
            &self.text
        };
        registry
            .render_with_context(name, context)
            .map_err(|error| RenderError::Render {
                name: name.to_owned(),
                message: error.reason().to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_templates_escape_and_text_templates_do_not() {
        let mut templates = Templates {
            html: new_registry(true),
            text: new_registry(false),
        };
        templates
            .register("t/page.html.hbs", "<p>{{title}}</p>{{{markdown body}}}")
            .unwrap();
        templates
            .register(
                "t/post.hbs",
                "{{title}} {{excerpt body 12}} {{hashtag tag}} {{date at \"%a %H:%M\"}}",
            )
            .unwrap();
        let renderer = Renderer {
            templates: Arc::new(templates),
            locale: Locale::default(),
        };
        let data = serde_json::json!({
            "title": "A <b> & C", "body": "one two three four", "tag": "breath work",
            "at": "2026-11-30T09:00:00+00:00[UTC]",
        });
        assert_eq!(
            renderer.render("t/page.html", &data).unwrap(),
            "<p>A &lt;b&gt; &amp; C</p><p>one two three four</p>\n"
        );
        assert_eq!(
            renderer.render("t/post", &data).unwrap(),
            "A <b> & C one two… #breathWork Mon 09:00"
        );
    }

    #[test]
    fn missing_variables_are_errors_that_name_them() {
        let mut templates = Templates {
            html: new_registry(true),
            text: new_registry(false),
        };
        templates.register("t/post.hbs", "{{nope}}").unwrap();
        let renderer = Renderer {
            templates: Arc::new(templates),
            locale: Locale::default(),
        };
        let error = renderer
            .render("t/post", &serde_json::json!({}))
            .unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
    }

    #[test]
    fn override_directory_replaces_bundled_templates() {
        let directory =
            std::env::temp_dir().join(format!("halcytone-templates-{}", std::process::id()));
        std::fs::create_dir_all(directory.join("twitter")).unwrap();
        std::fs::write(directory.join("twitter/post.hbs"), "custom {{item.title}}").unwrap();
        let renderer = Renderer::new(Some(&directory)).unwrap();
        std::fs::remove_dir_all(&directory).unwrap();
        let text = renderer
            .render("twitter/post", &serde_json::json!({"item": {"title": "T"}}))
            .unwrap();
        assert_eq!(text, "custom T");
    }

    #[test]
    fn a_locale_renders_its_own_templates_and_dates_in_its_words() {
        let mut templates = Templates {
            html: new_registry(true),
            text: new_registry(false),
        };
        templates
            .register("t/post.hbs", "{{language}} {{date at \"long\"}}")
            .unwrap();
        templates
            .register(
                "t/de/post.hbs",
                "{{locale}}: {{#each days}}{{date this \"full\"}}; {{/each}}{{number count}}",
            )
            .unwrap();
        let renderer = Renderer {
            templates: Arc::new(templates),
            locale: Locale::default(),
        };
        let data = serde_json::json!({
            "at": "2026-11-30T09:00:00+00:00[UTC]",
            "days": ["2026-11-30", "2026-12-01"],
            "count": 12345.5,
        });
        assert_eq!(
            renderer.render("t/post", &data).unwrap(),
            "en 30 November 2026"
        );
        let austrian = renderer.in_locale(Locale::parse("de-AT").unwrap());
        assert_eq!(
            austrian.render("t/post", &data).unwrap(),
            // Austrian German groups digits with a no-break space, as CLDR says.
            "de-AT: Montag, 30. November 2026; Dienstag, 1. Dezember 2026; 12\u{a0}345,5"
        );
        let french = renderer.in_locale(Locale::parse("fr").unwrap());
        assert_eq!(
            french.render("t/post", &data).unwrap(),
            "fr 30 novembre 2026"
        );
    }

    #[test]
    fn a_broken_override_names_the_template() {
        let directory =
            std::env::temp_dir().join(format!("halcytone-broken-{}", std::process::id()));
        std::fs::create_dir_all(directory.join("web")).unwrap();
        std::fs::write(directory.join("web/title.hbs"), "{{#if}}").unwrap();
        let error = Renderer::new(Some(&directory)).unwrap_err();
        std::fs::remove_dir_all(&directory).unwrap();
        assert!(
            error
                .to_string()
                .starts_with("template `web/title` does not compile"),
            "{error}"
        );
    }
}
