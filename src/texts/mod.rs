//! The words collabd sends and shows (API.md §13): every email is a set of
//! templates (subject, text, HTML) rendered by minijinja, whose sentences are
//! Fluent messages in the recipient's language, under the provider's product
//! name. `COLLABD_TEMPLATES_DIR` overrides any template by its name and adds
//! or overrides messages per language (`locales/<language>.ftl`). Everything
//! is compiled and checked at start ([`Texts::load`]): a template that does
//! not parse, names a variable it does not get, or fails to render stops
//! the start naming its file and line.
//!
//! HTML is escaped whatever a template says: the `safe` filter is gone,
//! `autoescape` blocks are refused, and a message is escaped as a whole
//! (its values with it) when an HTML template asks for it.

mod catalogue;
mod html;
mod messages;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};

pub use catalogue::{entries, Entry, GLOBALS, LAYOUT, MAILS};
pub use html::{escape_html, one_line};
use messages::Messages;

use crate::mail::Mail;

/// The languages collabd ships; a templates directory may add more.
pub const BUILT_IN_LANGUAGES: [&str; 2] = ["en", "sv"];

/// The compiled templates and messages, the product's name and the
/// default language. One per process.
pub struct Texts {
    /// Renders the HTML parts: every template in it escapes for HTML.
    html: Environment<'static>,
    /// Renders subjects and text parts: nothing escaped.
    text: Environment<'static>,
    messages: Arc<Messages>,
    /// The built-in templates, when a directory overrides some: what an
    /// email falls back to if an override fails on values the check at
    /// start did not try (the failure is logged), so no mail is lost and no
    /// call fails for a template.
    built_in: Option<Box<Texts>>,
    pub product: String,
    pub default_language: String,
}

impl std::fmt::Debug for Texts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Texts")
            .field("product", &self.product)
            .field("default_language", &self.default_language)
            .finish_non_exhaustive()
    }
}

/// `where` in a start error: the file (in the templates directory when it
/// came from there) and the line.
fn place(
    dir: Option<&Path>,
    overridden: &HashSet<String>,
    name: &str,
    line: Option<usize>,
) -> String {
    let file = match dir {
        Some(dir) if overridden.contains(name) => dir.join(name).display().to_string(),
        _ => format!("built-in template {name}"),
    };
    match line {
        Some(line) => format!("{file}, line {line}"),
        None => file,
    }
}

/// One environment: strict about undefined values, no `safe` filter, `t()`
/// for messages, and every value escaped for HTML when `html` (whatever the
/// template's name says: a text template included from an HTML one is
/// escaped too), none otherwise.
fn environment(html: bool, messages: &Arc<Messages>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(move |_| match html {
        true => AutoEscape::Html,
        false => AutoEscape::None,
    });
    env.remove_filter("safe");
    // Values reach HTML escaped by collabd's one rule (`/` stays `/`, so
    // links read as links in the source).
    env.set_formatter(move |out, _, value| {
        let text = value.to_string();
        let written = match html && !value.is_safe() {
            true => out.write_str(&escape_html(&text)),
            false => out.write_str(&text),
        };
        written.map_err(|_| Error::new(ErrorKind::WriteFailure, "could not write"))
    });
    let translate = messages.clone();
    env.add_function("t", move |state: &State, id: &str, args: Kwargs| {
        translate.render(state, html, id, &args)
    });
    env
}

/// Every template's text (the built-in one, or the directory's file of the
/// same name) and the names overridden.
type Sources = (Vec<(&'static str, String)>, HashSet<String>);

/// [`Sources`] of `dir`. A file under `mail/` that names no template, or a
/// template that says `autoescape`, stops the start.
fn sources(dir: Option<&Path>) -> Result<Sources, String> {
    if let Some(mail) = dir.map(|d| d.join("mail")).filter(|d| d.is_dir()) {
        let files = std::fs::read_dir(&mail).map_err(|e| format!("{}: {e}", mail.display()))?;
        for file in files {
            let path = file.map_err(|e| format!("{}: {e}", mail.display()))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let known = catalogue::BUILT_IN
                .iter()
                .any(|(n, _)| n.strip_prefix("mail/") == Some(name));
            if !known {
                return Err(format!(
                    "{}: collabd has no template of this name (docs/templates.md lists them)",
                    path.display()
                ));
            }
        }
    }
    let (mut sources, mut overridden) = (Vec::new(), HashSet::new());
    for (name, source) in catalogue::BUILT_IN {
        let own = match dir.map(|d| d.join(name)) {
            Some(path) if path.is_file() => {
                overridden.insert(name.to_string());
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            _ => source.to_string(),
        };
        if own.contains("autoescape") {
            return Err(format!(
                "{}: templates may not turn HTML escaping off (autoescape)",
                place(dir, &overridden, name, None)
            ));
        }
        sources.push((*name, own));
    }
    Ok((sources, overridden))
}

impl Texts {
    /// Compiles the built-in templates and messages, overridden and added
    /// to from `dir`, and checks every template in every language; the
    /// error names the file and line.
    pub fn load(
        dir: Option<&Path>,
        product: &str,
        default_language: &str,
    ) -> Result<Texts, String> {
        let messages = Arc::new(Messages::load(dir)?);
        if !messages.has(default_language) {
            return Err(format!(
                "COLLABD_DEFAULT_LANGUAGE {default_language:?}: no such language (there are {})",
                messages.languages().join(", ")
            ));
        }
        let (sources, overridden) = sources(dir)?;
        let compiled = |html: bool| -> Result<Environment<'static>, String> {
            let mut env = environment(html, &messages);
            for (name, source) in &sources {
                env.add_template_owned(name.to_string(), source.clone())
                    .map_err(|e| {
                        let at = place(dir, &overridden, name, e.line());
                        format!("{at}: {}", e.detail().unwrap_or_default())
                    })?;
            }
            Ok(env)
        };
        let built_in = match overridden.is_empty() {
            true => None,
            false => Some(Box::new(Texts::load(None, product, "en")?)),
        };
        let texts = Texts {
            html: compiled(true)?,
            text: compiled(false)?,
            built_in,
            messages: messages.clone(),
            product: product.to_string(),
            default_language: default_language.to_string(),
        };
        texts.check(dir, &overridden)?;
        Ok(texts)
    }

    /// The templates and messages `config` names (`COLLABD_TEMPLATES_DIR`,
    /// `COLLABD_PRODUCT_NAME`, `COLLABD_DEFAULT_LANGUAGE`).
    pub fn from_config(config: &crate::config::Config) -> Result<Texts, String> {
        Texts::load(
            config.templates_dir.as_deref(),
            config.product_name.trim(),
            &config.default_language,
        )
    }

    /// Every template names only the variables it gets, and renders in
    /// every language with sample values.
    fn check(&self, dir: Option<&Path>, overridden: &HashSet<String>) -> Result<(), String> {
        const LAYOUT_ENTRY: Entry = Entry {
            name: LAYOUT,
            used: "the frame of every HTML email",
            variables: &["link"],
        };
        for entry in entries().chain(std::iter::once(&LAYOUT_ENTRY)) {
            let template = self
                .text
                .get_template(entry.name)
                .map_err(|e| e.to_string())?;
            let source = template.source().to_string();
            // A subject never carries the link: its token would be kept
            // unsealed with the outbox's subject.
            let subject = entry.name.ends_with(".subject.txt");
            let known: HashSet<&str> = entry
                .variables
                .iter()
                .chain(GLOBALS.iter())
                .copied()
                .filter(|v| !(subject && *v == "link"))
                .collect();
            if let Some(unknown) = template
                .undeclared_variables(false)
                .into_iter()
                .find(|v| !known.contains(v.as_str()))
            {
                let line = source
                    .lines()
                    .position(|l| names(l, &unknown))
                    .map(|i| i + 1);
                return Err(format!(
                    "{}: the template names {unknown:?}, which it does not get (it gets {})",
                    place(dir, overridden, entry.name, line),
                    entry
                        .variables
                        .iter()
                        .chain(&["product", "language"])
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if entry.name == LAYOUT {
                continue;
            }
            // Every branch a boolean opens: each value both ways.
            for (language, flag) in self
                .messages
                .languages()
                .into_iter()
                .flat_map(|l| [(l.clone(), true), (l, false)])
            {
                let sample: BTreeMap<&str, Value> = entry
                    .variables
                    .iter()
                    .map(|v| match v {
                        &"has_password" => (*v, Value::from(flag)),
                        _ => (*v, sample(v)),
                    })
                    .collect();
                self.render(entry.name, &language, sample).map_err(|e| {
                    format!(
                        "{} (in {language}): {}",
                        place(dir, overridden, e.name().unwrap_or(entry.name), e.line()),
                        e.detail().unwrap_or(&e.to_string())
                    )
                })?;
            }
        }
        Ok(())
    }

    /// The languages there are, English first.
    pub fn languages(&self) -> Vec<String> {
        self.messages.languages()
    }

    /// True when collabd has `language`.
    pub fn has(&self, language: &str) -> bool {
        self.messages.has(language)
    }

    /// The first of `choices` collabd has, else the default language.
    pub fn pick(&self, choices: &[Option<&str>]) -> String {
        choices
            .iter()
            .flatten()
            .find(|l| self.has(l))
            .map_or_else(|| self.default_language.clone(), |l| l.to_string())
    }

    fn render(
        &self,
        name: &str,
        language: &str,
        mut values: BTreeMap<&str, Value>,
    ) -> Result<String, Error> {
        values.insert("product", Value::from(self.product.clone()));
        values.insert("language", Value::from(language.to_string()));
        let env = match name.ends_with(".html") {
            true => &self.html,
            false => &self.text,
        };
        env.get_template(name)?.render(values)
    }

    /// The email `kind` (one of [`MAILS`]) to `to` in `language`, with
    /// `values` (strings: every one is escaped in the HTML part) and the
    /// link it is about.
    pub fn mail(
        &self,
        kind: &str,
        language: &str,
        to: &str,
        values: &[(&str, Value)],
        link: Option<&str>,
    ) -> Result<Mail, String> {
        let mut given: BTreeMap<&str, Value> = values.iter().cloned().collect();
        if let Some(link) = link {
            given.insert("link", Value::from(link.to_string()));
        }
        let render = |part: &str| {
            self.render(&format!("mail/{kind}.{part}"), language, given.clone())
                .map_err(|e| format!("mail/{kind}.{part}: {e}"))
        };
        let rendered = (|| {
            Ok(Mail {
                to: to.to_string(),
                subject: one_line(render("subject.txt")?.trim()),
                text: render("txt")?,
                html: render("html")?,
                link: link.map(str::to_string),
            })
        })();
        match (rendered, &self.built_in) {
            (Err(why), Some(built_in)) => {
                tracing::error!(error = %why, "an overridden template failed; the built-in one is sent");
                let language = built_in.pick(&[Some(language)]);
                built_in.mail(kind, &language, to, values, link)
            }
            (rendered, _) => rendered,
        }
    }
}

/// True when `line` names `identifier` as a whole word.
fn names(line: &str, identifier: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(identifier).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + identifier.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// A plausible value of a template's variable, for previews and the check
/// at start.
fn sample(variable: &str) -> Value {
    match variable {
        "organization" => Value::from("Analytical Engines AB"),
        "inviter" | "by" => Value::from("Ada Lovelace (ada@example.com)"),
        "role" => Value::from("admin"),
        "expires" => Value::from("2026-12-31T12:00:00Z"),
        "name" => Value::from("Charles Babbage"),
        "email" => Value::from("charles@example.com"),
        "new_email" => Value::from("charles@engines.example"),
        "minutes" => Value::from(60),
        "hours" => Value::from(48),
        "domain" => Value::from("engines.example"),
        "has_password" => Value::from(false),
        other => Value::from(format!("<{other}>")),
    }
}

impl Texts {
    /// Every email in every language, rendered with plausible values into
    /// `out/<language>/<kind>.html` and `.txt` (the subject first): what a
    /// provider looks at before a start, and what CI shows in a browser.
    /// The files written, in order.
    pub fn preview(&self, out: &Path) -> Result<Vec<std::path::PathBuf>, String> {
        let mut written = Vec::new();
        for language in self.languages() {
            let dir = out.join(&language);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for [subject, ..] in &MAILS {
                let kind = subject
                    .name
                    .trim_start_matches("mail/")
                    .trim_end_matches(".subject.txt");
                let values: Vec<(&str, Value)> = subject
                    .variables
                    .iter()
                    .filter(|v| **v != "link")
                    .map(|v| (*v, sample(v)))
                    .collect();
                let link = subject
                    .variables
                    .contains(&"link")
                    .then(|| format!("https://panel.example/{kind}/TOKEN"));
                let mail = self.mail(
                    kind,
                    &language,
                    "charles@example.com",
                    &values,
                    link.as_deref(),
                )?;
                for (file, text) in [
                    (format!("{kind}.html"), mail.html),
                    (
                        format!("{kind}.txt"),
                        format!("Subject: {}\n\n{}", mail.subject, mail.text),
                    ),
                ] {
                    let path = dir.join(file);
                    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                    written.push(path);
                }
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests;
