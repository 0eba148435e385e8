//! The words collabd sends and shows (API.md §13): every email is a set of
//! templates (subject, text, HTML) and every page a template, rendered by
//! minijinja, whose sentences are Fluent messages in the reader's language,
//! under the provider's product name. `COLLABD_TEMPLATES_DIR` overrides any template by its name and adds
//! or overrides messages per language (`locales/<language>.ftl`). Everything
//! is compiled and checked at start ([`Texts::load`]): a template that does
//! not parse, names a variable it does not get, or fails to render stops
//! the start naming its file and line.
//!
//! HTML is escaped whatever a template says, by minijinja's own escaping
//! (`HtmlEscape`): the `safe` filter is gone, `autoescape` blocks are
//! refused, and a message is escaped as a whole (its values with it) when an
//! HTML template asks for it.

mod catalogue;
mod lines;
mod messages;
mod person;

use std::collections::{BTreeMap, HashSet};

use std::path::Path;
use std::sync::Arc;

use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, HtmlEscape, State, UndefinedBehavior};

pub use catalogue::{
    entries, Entry, GLOBALS, LAYOUT, LINK_KINDS, LINK_REFUSALS, MAILS, PAGES, PARTS, SSO_REFUSALS,
};
pub use lines::one_line;
use messages::Messages;
pub use person::{person, Person};

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
    /// The built-in templates and messages, when a directory overrides
    /// some: what an email or page falls back to if an override fails on
    /// values the check at start did not try (the failure is logged), so no
    /// mail is lost and no call or page fails for a template.
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
    // Every value not escaped already reaches HTML escaped, whatever the
    // template's name or blocks say.
    env.set_formatter(move |out, _, value| {
        let text = value.to_string();
        let written = match html && !value.is_safe() {
            true => write!(out, "{}", HtmlEscape(&text)),
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

/// Stops the start for a file under `dir/mail/` or `dir/page/` that names
/// no template (a misspelled override would be ignored otherwise).
fn no_strangers(dir: &Path) -> Result<(), String> {
    for folder in ["mail", "page"] {
        let path = dir.join(folder);
        if !path.is_dir() {
            continue;
        }
        let files = std::fs::read_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for file in files {
            let file = file.map_err(|e| format!("{}: {e}", path.display()))?.path();
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let known = catalogue::BUILT_IN.iter().any(|(n, _)| {
                n.strip_prefix(folder).and_then(|n| n.strip_prefix('/')) == Some(name)
            });
            if !known {
                return Err(format!(
                    "{}: collabd has no template of this name (docs/templates.md lists them)",
                    file.display()
                ));
            }
        }
    }
    Ok(())
}

/// [`Sources`] of `dir`. A file under `mail/` or `page/` that names no
/// template, or a template that says `autoescape`, stops the start.
fn sources(dir: Option<&Path>) -> Result<Sources, String> {
    if let Some(dir) = dir {
        no_strangers(dir)?;
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
        // What an email or page falls back to when a directory's template
        // or message fails on values the check did not try.
        let built_in = match dir {
            None => None,
            Some(_) => {
                let default = match BUILT_IN_LANGUAGES.contains(&default_language) {
                    true => default_language,
                    false => "en",
                };
                Some(Box::new(Texts::load(None, product, default)?))
            }
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
        for entry in entries().chain(PARTS.iter()) {
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
            if PARTS.iter().any(|p| p.name == entry.name) {
                continue;
            }
            for language in self.messages.languages() {
                for values in trials(entry) {
                    self.render(entry.name, &language, values).map_err(|e| {
                        format!(
                            "{} (in {language}): {}",
                            place(dir, overridden, e.name().unwrap_or(entry.name), e.line()),
                            e.detail().unwrap_or(&e.to_string())
                        )
                    })?;
                }
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

    /// The language `code` names in any case, if collabd has it.
    pub fn named(&self, code: &str) -> Option<&str> {
        self.messages.named(code)
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
        self.or_built_in(rendered, language, |built_in, language| {
            built_in.mail(kind, language, to, values, link)
        })
    }

    /// The page `name` (`page/<name>.html`, one of [`PAGES`]) in
    /// `language`, with `values` (each escaped).
    pub fn page(
        &self,
        name: &str,
        language: &str,
        values: &[(&str, Value)],
    ) -> Result<String, String> {
        let template = format!("page/{name}.html");
        let given: BTreeMap<&str, Value> = values.iter().cloned().collect();
        let rendered = self
            .render(&template, language, given)
            .map_err(|e| format!("{template}: {e}"));
        self.or_built_in(rendered, language, |built_in, language| {
            built_in.page(name, language, values)
        })
    }

    /// `rendered`, or, when it failed and a directory overrides the
    /// built-in texts, `again` with the built-in ones in the nearest
    /// language they have (the failure logged): no mail is lost and no
    /// call or page fails for a provider's template.
    fn or_built_in<T>(
        &self,
        rendered: Result<T, String>,
        language: &str,
        again: impl FnOnce(&Texts, &str) -> Result<T, String>,
    ) -> Result<T, String> {
        match (rendered, &self.built_in) {
            (Err(why), Some(built_in)) => {
                tracing::error!(error = %why, "an overridden template failed; the built-in one is used");
                again(built_in, &built_in.pick(&[Some(language)]))
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

/// The values a template is tried with at start: every combination of its
/// variables' samples (so every branch a boolean opens, every message a
/// `reason` names with every `kind`, every plural a count selects, and a
/// person with and without an address is rendered; at most a few hundred
/// combinations, for the refusal pages).
fn trials(entry: &Entry) -> Vec<BTreeMap<&'static str, Value>> {
    let mut trials = vec![BTreeMap::new()];
    for variable in entry.variables {
        let values = samples(entry.name, variable);
        trials = trials
            .into_iter()
            .flat_map(|trial| {
                values.iter().map(move |value| {
                    let mut trial = trial.clone();
                    trial.insert(*variable, value.clone());
                    trial
                })
            })
            .collect();
    }
    trials
}

/// Plausible values of `template`'s `variable`, for previews (the first)
/// and the check at start (all).
fn samples(template: &str, variable: &str) -> Vec<Value> {
    let each = |values: &[&str]| values.iter().map(|v| Value::from(*v)).collect();
    match variable {
        "has_password" | "twofactor" | "joined" => vec![Value::from(false), Value::from(true)],
        "inviter" | "by" => vec![
            person("Ada Lovelace", "ada@example.com", true),
            person("Ada Lovelace", "ada@example.com", false),
        ],
        // Each plural: many, then one.
        "minutes" | "hours" | "seconds" => vec![sample(variable), Value::from(1)],
        "current" => vec![Value::from("charles@old.example"), Value::from("")],
        "kind" => each(&LINK_KINDS),
        "reason" if template.contains("sso") => each(&SSO_REFUSALS),
        "reason" => each(&LINK_REFUSALS),
        _ => vec![sample(variable)],
    }
}

/// A plausible value of a template's variable.
fn sample(variable: &str) -> Value {
    match variable {
        "organization" => Value::from("Analytical Engines AB"),
        "inviter" | "by" => person("Ada Lovelace", "ada@example.com", true),
        "role" => Value::from("admin"),
        "expires" => Value::from("2026-12-31T12:00:00Z"),
        "name" => Value::from("Charles Babbage"),
        "email" => Value::from("charles@example.com"),
        "new_email" => Value::from("charles@engines.example"),
        "minutes" => Value::from(60),
        "hours" => Value::from(48),
        "domain" => Value::from("engines.example"),
        "token" => Value::from("c2FtcGxlLXRva2Vu"),
        "session" => Value::from("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"),
        "organizationid" => Value::from("0192b7e4-5c1a-7d3e-9f00-3a1b2c3d4e5f"),
        "seconds" => Value::from(30),
        "detail" => Value::from("invalid_grant"),
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
            written.extend(self.preview_pages(&language, &dir.join("pages"))?);
        }
        Ok(written)
    }

    /// Every page in `language`, with plausible values, into `dir`.
    fn preview_pages(&self, language: &str, dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut written = Vec::new();
        for entry in &PAGES {
            let name = entry
                .name
                .trim_start_matches("page/")
                .trim_end_matches(".html");
            let values: Vec<(&str, Value)> = entry
                .variables
                .iter()
                .map(|v| (*v, samples(entry.name, v).swap_remove(0)))
                .collect();
            let page = self.page(name, language, &values)?;
            let path = dir.join(format!("{name}.html"));
            std::fs::write(&path, page).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests;
