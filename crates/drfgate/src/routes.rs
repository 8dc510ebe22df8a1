//! STUB until wip/parsing lands.
#[derive(Debug)]
pub struct RouteError(pub String);
impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
pub struct RoutePattern {
    src: String,
    re: regex::Regex,
}
impl RoutePattern {
    pub fn django_path(route: &str) -> Result<RoutePattern, RouteError> {
        let conv = regex::Regex::new(r"<(?:(\w+):)?(\w+)>").unwrap();
        let mut out = String::from("^");
        let mut last = 0;
        for m in conv.captures_iter(route) {
            let w = m.get(0).unwrap();
            out.push_str(&regex::escape(&route[last..w.start()]));
            out.push_str(match m.get(1).map(|x| x.as_str()).unwrap_or("str") {
                "int" => "[0-9]+",
                "str" => "[^/]+",
                "slug" => "[-a-zA-Z0-9_]+",
                "path" => ".+",
                "uuid" => "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                c => return Err(RouteError(format!("unknown converter {c}"))),
            });
            last = w.end();
        }
        out.push_str(&regex::escape(&route[last..]));
        out.push('$');
        Ok(RoutePattern {
            src: route.into(),
            re: regex::Regex::new(&out).map_err(|e| RouteError(e.to_string()))?,
        })
    }
    pub fn django_regex(re: &str) -> Result<RoutePattern, RouteError> {
        Ok(RoutePattern {
            src: re.into(),
            re: regex::Regex::new(re).map_err(|e| RouteError(e.to_string()))?,
        })
    }
    pub fn matches(&self, raw_path: &[u8]) -> bool {
        let p = String::from_utf8_lossy(raw_path);
        self.re.is_match(p.strip_prefix('/').unwrap_or(&p))
    }
    pub fn source(&self) -> &str {
        &self.src
    }
}
