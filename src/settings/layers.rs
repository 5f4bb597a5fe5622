//! The places one setting can come from, read in the order its definition declares: the flag,
//! the environment, Coder's env file, `coder login`, the default. Errors name where the bad value
//! came from.

use std::path::PathBuf;

use clap::ArgMatches;

use super::defs::{Def, Kind};
use super::discovery::CoderLogin;
use super::sources::{Environment, FileSystem};
use super::EnvFile;
use crate::report::database::SettingSource;

pub struct Layers<'a> {
    pub matches: &'a ArgMatches,
    pub env: &'a dyn Environment,
    pub file: &'a EnvFile,
    pub login: &'a CoderLogin,
    pub fs: &'a dyn FileSystem,
}

/// Empty (or blank) counts as unset at every level, as it does for Coder's flags.
fn set(value: String) -> Option<String> {
    (!value.trim().is_empty()).then_some(value)
}

impl Layers<'_> {
    /// The text of a setting from the highest source that has one.
    pub fn text(&self, def: &Def) -> Option<(String, SettingSource)> {
        let flag = match def.kind {
            Kind::Path => self
                .matches
                .get_one::<PathBuf>(def.id)
                .map(|p| p.to_string_lossy().into_owned()),
            Kind::Value | Kind::Choice(_) => self.matches.get_one::<String>(def.id).cloned(),
            Kind::Paths | Kind::Switch | Kind::Sections => None,
        };
        if let Some(value) = flag.and_then(set) {
            return Some((value, SettingSource::Flag));
        }
        self.below_flag(def)
    }

    /// A file name: the flag as given (any bytes), else the text of a lower source.
    pub fn path(&self, def: &Def) -> Option<(PathBuf, SettingSource)> {
        if let Some(path) = self
            .matches
            .get_one::<PathBuf>(def.id)
            .filter(|p| !p.as_os_str().is_empty())
        {
            return Some((path.clone(), SettingSource::Flag));
        }
        self.below_flag(def)
            .map(|(text, source)| (PathBuf::from(text), source))
    }

    fn below_flag(&self, def: &Def) -> Option<(String, SettingSource)> {
        if let Some(var) = def.env {
            if let Some(value) = self.env.var(var).and_then(set) {
                return Some((value, SettingSource::Environment));
            }
            if def.env_file {
                if let Some(value) = self.file.get(var).and_then(set) {
                    return Some((value, SettingSource::EnvFile));
                }
            }
        }
        let login = def.login?;
        self.login
            .get(login)
            .and_then(set)
            .map(|value| (value, SettingSource::CoderLogin))
    }

    /// A setting parsed with `parse`, from the highest source that has it.
    pub fn get<T>(
        &self,
        def: &Def,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<(T, SettingSource)>, String> {
        let Some((text, source)) = self.text(def) else {
            return Ok(None);
        };
        match parse(&text) {
            Ok(value) => Ok(Some((value, source))),
            Err(why) => Err(format!("{}: {why}", self.name(def, source))),
        }
    }

    /// A setting that has a default: the highest source's value, else the default parsed by the
    /// same rules.
    pub fn value<T>(
        &self,
        def: &Def,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, String> {
        self.value_from(def, parse).map(|(value, _)| value)
    }

    /// As [`Layers::value`], with where the value came from (`None`: the default).
    pub fn value_from<T>(
        &self,
        def: &Def,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<(T, Option<SettingSource>), String> {
        if let Some((value, source)) = self.get(def, &parse)? {
            return Ok((value, Some(source)));
        }
        let default = def
            .default
            .text()
            .ok_or_else(|| format!("{} has no default (a bug)", def.flag))?;
        parse(&default)
            .map(|value| (value, None))
            .map_err(|why| format!("the default of {}: {why} (a bug)", def.flag))
    }

    /// Whether a switch was given.
    pub fn switch(&self, def: &Def) -> bool {
        self.matches.get_flag(def.id)
    }

    /// The repeatable file names of a flag.
    pub fn paths(&self, def: &Def) -> Vec<PathBuf> {
        self.matches
            .get_many::<PathBuf>(def.id)
            .map(|paths| paths.cloned().collect())
            .unwrap_or_default()
    }

    /// The sections named by a flag.
    pub fn sections(&self, def: &Def) -> impl Iterator<Item = crate::report::SectionId> + '_ {
        self.matches
            .get_many::<crate::report::SectionId>(def.id)
            .into_iter()
            .flatten()
            .copied()
    }

    /// The setting as named in messages about a value from `source`.
    pub fn name(&self, def: &Def, source: SettingSource) -> String {
        let var = def.env.unwrap_or(def.flag);
        match source {
            SettingSource::Flag | SettingSource::Discovered => def.flag.to_string(),
            SettingSource::Environment => var.to_string(),
            SettingSource::EnvFile => self.file.key_in_file(var),
            SettingSource::CoderLogin => match def.login {
                Some(login) => format!("`coder login`'s {}", self.login.path(login)),
                None => def.flag.to_string(),
            },
        }
    }
}
