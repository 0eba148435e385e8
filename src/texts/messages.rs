//! Messages per language (Fluent): English, the fallback of every message,
//! then Swedish, then what a templates directory adds
//! (`locales/<language>.ftl`, whose messages override the built-in ones of
//! that language).

use std::path::Path;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};
use unic_langid::LanguageIdentifier;

use super::catalogue::LANGUAGES;
use super::person::Person;

type Bundle = FluentBundle<FluentResource>;

/// Every language's bundle, English first.
pub struct Messages {
    bundles: Vec<(String, Bundle)>,
}

/// The resource in `text`, or the file and line of its first error.
fn parse(text: String, file: &str) -> Result<FluentResource, String> {
    FluentResource::try_new(text.clone()).map_err(|(_, errors)| {
        let at = errors.first().map_or(0, |e| e.pos.start);
        let line = text.get(..at).map_or(1, |s| s.matches('\n').count() + 1);
        format!(
            "{file}, line {line}: {}",
            errors
                .first()
                .map_or_else(|| "does not parse".to_string(), |e| e.to_string())
        )
    })
}

fn bundle(code: &str) -> Result<Bundle, String> {
    let id: LanguageIdentifier = code
        .parse()
        .map_err(|_| format!("{code:?} is no language code"))?;
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Messages go into email headers and text: no Unicode isolation marks.
    bundle.set_use_isolating(false);
    // NUMBER() and plural selectors ({ $minutes -> [one] … }).
    bundle
        .add_builtins()
        .map_err(|e| format!("{code}: {e:?}"))?;
    Ok(bundle)
}

/// True for a language code collabd takes: 2 or 3 lower-case letters,
/// optionally a region (`pt-BR`).
pub fn valid_code(code: &str) -> bool {
    let mut parts = code.split('-');
    let language = parts.next().unwrap_or_default();
    let region = parts.next();
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()))
        && parts.next().is_none()
}

impl Messages {
    /// The built-in languages, with what `dir/locales` adds.
    pub fn load(dir: Option<&Path>) -> Result<Messages, String> {
        let mut bundles = Vec::new();
        for (code, text) in LANGUAGES {
            let mut bundle = bundle(code)?;
            let resource = parse(text.to_string(), &format!("built-in locales/{code}.ftl"))?;
            bundle
                .add_resource(resource)
                .map_err(|e| format!("built-in locales/{code}.ftl: {e:?}"))?;
            bundles.push((code.to_string(), bundle));
        }
        let mut messages = Messages { bundles };
        if let Some(locales) = dir.map(|d| d.join("locales")).filter(|d| d.is_dir()) {
            messages.add_from(&locales)?;
        }
        Ok(messages)
    }

    /// Adds every `<language>.ftl` of `locales`.
    fn add_from(&mut self, locales: &Path) -> Result<(), String> {
        let mut files: Vec<_> = std::fs::read_dir(locales)
            .map_err(|e| format!("{}: {e}", locales.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
            .collect();
        files.sort();
        for path in files {
            let file = path.display().to_string();
            let code = path
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|c| valid_code(c))
                .ok_or_else(|| format!("{file}: the file's name must be a language code (sv.ftl)"))?
                .to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
            let resource = parse(text, &file)?;
            let index = match self.bundles.iter().position(|(c, _)| *c == code) {
                Some(index) => index,
                None => {
                    self.bundles.push((code.clone(), bundle(&code)?));
                    self.bundles.len() - 1
                }
            };
            self.bundles[index].1.add_resource_overriding(resource);
        }
        Ok(())
    }

    pub fn languages(&self) -> Vec<String> {
        self.bundles.iter().map(|(c, _)| c.clone()).collect()
    }

    pub fn has(&self, code: &str) -> bool {
        self.bundles.iter().any(|(c, _)| c == code)
    }

    /// The language `code` names in any case (`SV`, `pt-br`), if collabd
    /// has it.
    pub fn named(&self, code: &str) -> Option<&str> {
        self.bundles
            .iter()
            .map(|(c, _)| c.as_str())
            .find(|c| c.eq_ignore_ascii_case(code))
    }

    /// The message `id` in the template's language (else English), with
    /// `args` and the product's name as its values; escaped whole for an
    /// HTML template.
    pub fn render(
        &self,
        state: &State,
        html: bool,
        id: &str,
        args: &Kwargs,
    ) -> Result<Value, Error> {
        let language = state
            .lookup("language")
            .and_then(|l| l.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut values = FluentArgs::new();
        if let Some(product) = state.lookup("product") {
            values.set("product", product.to_string());
        }
        for name in args.args() {
            let value: Value = args.get(name)?;
            if let Some(person) = value.downcast_object_ref::<Person>() {
                values.set(name.to_string(), self.person(&language, person)?);
                continue;
            }
            let value = match value.kind() {
                ValueKind::Number => match f64::try_from(value.clone()) {
                    Ok(n) => FluentValue::from(n),
                    Err(_) => FluentValue::from(value.to_string()),
                },
                _ => FluentValue::from(value.to_string()),
            };
            values.set(name.to_string(), value);
        }
        Ok(for_output(html, self.format(&language, id, &values)?))
    }
}

impl Messages {
    /// The message `id` of `language`, else of English, with `values`.
    fn format(&self, language: &str, id: &str, values: &FluentArgs) -> Result<String, Error> {
        let (bundle, pattern) = self
            .bundles
            .iter()
            .filter(|(c, _)| c == language)
            .chain(self.bundles.first())
            .find_map(|(_, b)| b.get_message(id).and_then(|m| m.value()).map(|p| (b, p)))
            .ok_or_else(|| no_message(id))?;
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(values), &mut errors);
        match errors.first() {
            Some(error) => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("message {id:?}: {error}"),
            )),
            None => Ok(text.into_owned()),
        }
    }

    /// How `person` reads in `language`: the message `person` (name and
    /// address) or `person-unconfirmed`.
    fn person(&self, language: &str, person: &Person) -> Result<FluentValue<'static>, Error> {
        let (id, email) = match &person.email {
            Some(email) => ("person", email.as_str()),
            None => ("person-unconfirmed", ""),
        };
        let mut values = FluentArgs::new();
        values.set("name", person.name.clone());
        values.set("email", email.to_string());
        Ok(FluentValue::from(self.format(language, id, &values)?))
    }
}

/// A value that reaches an HTML template escaped already, and any other.
fn for_output(html: bool, text: String) -> Value {
    match html {
        true => Value::from_safe_string(minijinja::HtmlEscape(&text).to_string()),
        false => Value::from(text),
    }
}

/// An error a template gets for a message it cannot have.
fn no_message(id: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("no message {id:?} in English"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids of the messages of a built-in language.
    fn ids(code: &str) -> Vec<String> {
        let text = LANGUAGES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, t)| *t)
            .unwrap_or_default();
        let resource = parse(text.to_string(), code).expect("parses");
        resource
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_english_message_is_in_swedish() {
        let swedish = ids("sv");
        let missing: Vec<String> = ids("en")
            .into_iter()
            .filter(|id| !swedish.contains(id))
            .collect();
        assert!(
            missing.is_empty(),
            "in English, not in Swedish: {missing:?}"
        );
        assert!(ids("en").len() > 40);
    }

    #[test]
    fn language_codes() {
        for good in ["en", "sv", "pt-BR", "fil"] {
            assert!(valid_code(good), "{good}");
        }
        for bad in ["", "e", "EN", "en-us", "english", "sv-SE-x", "../x"] {
            assert!(!valid_code(bad), "{bad}");
        }
    }
}
