//! Which database a URL names, and whether it answers from this machine.

/// Which database a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Postgres(String),
    Sqlite(String),
}

impl Target {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; `sqlite://path`,
    /// `sqlite:path` or a bare path is an SQLite file.
    pub fn parse(url: &str) -> Target {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Target::Postgres(url.to_string());
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Target::Sqlite(path.to_string())
    }

    /// True when the database answers from this machine: an SQLite file, or
    /// PostgreSQL over a Unix socket or a loopback address. Anything this
    /// cannot tell for sure (a URL it cannot read, several hosts of which one
    /// is remote) counts as remote.
    pub fn is_local(&self) -> bool {
        let url = match self {
            Target::Sqlite(_) => return true,
            Target::Postgres(url) => url,
        };
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        // libpq's `host` and `hostaddr` parameters win over the URL's host,
        // and each may list several, comma-separated.
        let mut hosts: Vec<String> = parsed
            .query_pairs()
            .filter(|(key, _)| key == "host" || key == "hostaddr")
            .flat_map(|(_, value)| {
                value
                    .split(',')
                    .map(|h| h.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        if hosts.is_empty() {
            match parsed.host_str().filter(|h| !h.is_empty()) {
                Some(host) => hosts.push(host.to_string()),
                // No host at all: libpq takes PGHOST, else its Unix socket.
                None => hosts.extend(std::env::var("PGHOST").ok()),
            }
        }
        hosts.iter().all(|host| is_local_host(host))
    }
}

/// A Unix socket directory (or Linux's abstract namespace), `localhost`, or a
/// loopback address.
fn is_local_host(host: &str) -> bool {
    if host.is_empty() || host.starts_with('/') || host.starts_with('@') {
        return true;
    }
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn only_a_database_on_this_machine_counts_as_local() {
        let local = [
            "sqlite://collabd.db",
            "collabd.db",
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://u:p@localhost/db",
            "postgres://[::1]:5432/db",
            "postgres:///db?host=/var/run/postgresql",
            "postgres://db.example.com/db?host=127.0.0.1",
        ];
        for url in local {
            assert!(Target::parse(url).is_local(), "{url} is local");
        }
        let remote = [
            "postgres://postgres@db.example.com:5432/test",
            "postgres://10.0.0.5/db",
            "postgres://127.0.0.1/db?host=127.0.0.1,db.example.com",
            "postgres://localhost/db?hostaddr=192.0.2.1",
            "postgres://%zz/db",
        ];
        for url in remote {
            assert!(!Target::parse(url).is_local(), "{url} is not local");
        }
    }
}
