//! The cases of the spec's content-negotiation table (drf-around-auth.md §2.2, §2.6).

use super::*;

fn defaults() -> Vec<Arc<Renderer>> {
    vec![
        Arc::new(builtin_renderer("JSONRenderer", "JSONRenderer").unwrap()),
        Arc::new(builtin_renderer("BrowsableAPIRenderer", "BrowsableAPIRenderer").unwrap()),
    ]
}

fn select(renderers: &[Arc<Renderer>], accept: Option<&str>, query: &str) -> Negotiated {
    Negotiation {
        renderers,
        url_format_override: Some("format"),
        accept_json: None,
        accept_any: None,
    }
    .select(accept.map(str::as_bytes), query.as_bytes(), None)
}

fn json(indent: Option<usize>) -> Negotiated {
    Negotiated::Chosen {
        renderer: "JSONRenderer".into(),
        refusals: Some(indent),
    }
}

fn html() -> Negotiated {
    Negotiated::Chosen {
        renderer: "BrowsableAPIRenderer".into(),
        refusals: None,
    }
}

#[test]
fn the_spec_table() {
    let r = defaults();
    let cases: &[(Option<&str>, &str, Negotiated)] = &[
        (None, "", json(None)),
        (Some(""), "", Negotiated::NotAcceptable),
        (Some(" "), "", Negotiated::NotAcceptable),
        (Some(","), "", Negotiated::NotAcceptable),
        (Some("*/*"), "", json(None)),
        (Some("*"), "", Negotiated::NotAcceptable),
        (Some("APPLICATION/JSON"), "", json(None)),
        (Some("application/json;q=0"), "", json(None)),
        (Some("text/html"), "", html()),
        (Some("text/html, application/json"), "", json(None)),
        (Some("text/html;q=1.0, application/json;q=0.1"), "", json(None)),
        (Some("text/html; charset=utf-8, application/json"), "", html()),
        (Some("text/html;level=1"), "", html()),
        (Some("application/json; indent=4"), "", json(Some(4))),
        (Some("application/json; indent=4, text/html; charset=utf-8"), "", json(Some(4))),
        (Some("application/json; Indent=4"), "", json(Some(4))),
        (Some("application/json; indent=100"), "", json(Some(8))),
        (Some("application/json; indent=abc"), "", json(None)),
        (Some("application/json ; indent=1"), "", json(Some(1))),
        (Some("application/json;indent=2;q=0.9"), "", json(Some(2))),
        (Some("*/*; indent=2"), "", json(Some(2))),
        (Some("application/*; indent=3"), "", json(Some(3))),
        (Some("application/*"), "", json(None)),
        (Some("*/json"), "", json(None)),
        (Some("text/*"), "", html()),
        (Some("image/png"), "", Negotiated::NotAcceptable),
        (Some("garbage"), "", Negotiated::NotAcceptable),
        (Some("application/vnd.api+json"), "", Negotiated::NotAcceptable),
        (Some("image/png, */*;q=0.1"), "", json(None)),
        (Some("application/json, garbage"), "", json(None)),
        (
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            "",
            html(),
        ),
        (None, "format=json", json(None)),
        (None, "format=api", html()),
        (None, "format=xml", Negotiated::FormatNotFound("xml".into())),
        (None, "format=JSON", Negotiated::FormatNotFound("JSON".into())),
        (None, "format=", json(None)),
        (None, "format=json&format=api", html()),
        (None, "format=api&format=json", json(None)),
        (Some("text/html"), "format=json", Negotiated::NotAcceptable),
        (Some("application/json"), "format=api", Negotiated::NotAcceptable),
        (
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            "format=json",
            json(None),
        ),
        (Some("*/*,image/png"), "", json(None)),
    ];
    for (accept, query, expected) in cases {
        assert_eq!(&select(&r, *accept, query), expected, "{accept:?} {query:?}");
    }
    assert!(matches!(
        select(&r, Some("application/json; a*=bogus''x"), ""),
        Negotiated::Unsure(_)
    ));
    // Two rank-3 tokens for the same renderer: the indent depends on Python's hash seed.
    assert_eq!(
        select(&r, Some("application/json; indent=2, application/json; indent=4"), ""),
        Negotiated::Chosen {
            renderer: "JSONRenderer".into(),
            refusals: None
        }
    );
}

#[test]
fn the_suffix_wins_over_the_query() {
    let r = defaults();
    let n = Negotiation {
        renderers: &r,
        url_format_override: Some("format"),
        accept_json: None,
        accept_any: None,
    };
    assert_eq!(n.select(None, b"format=api", Some("json")), json(None));
    assert_eq!(
        n.select(None, b"", Some("xml")),
        Negotiated::FormatNotFound("xml".into())
    );
    let off = Negotiation {
        renderers: &r,
        url_format_override: None,
        accept_json: None,
        accept_any: None,
    };
    assert_eq!(off.select(None, b"format=xml", None), json(None));
}

#[test]
fn accept_limits() {
    let r = defaults();
    let many = format!("{}application/json", "image/png,".repeat(64));
    assert_eq!(select(&r, Some(&many), ""), Negotiated::NotAcceptable);
    let fewer = format!("{}application/json", "image/png,".repeat(63));
    assert_eq!(select(&r, Some(&fewer), ""), json(None));
    let long_token = format!("{}, application/json", "x".repeat(300));
    assert_eq!(select(&r, Some(&long_token), ""), json(None));
    let cut = format!("{}, application/json", "x".repeat(8200));
    assert_eq!(select(&r, Some(&cut), ""), Negotiated::NotAcceptable);
    let spaces = format!("application/json,{}", " ".repeat(8200));
    assert_eq!(select(&r, Some(&spaces), ""), json(None));
}

#[test]
fn json_only_and_html_first_views() {
    let json_only = vec![Arc::new(
        builtin_renderer("JSONRenderer", "JSONRenderer").unwrap(),
    )];
    assert_eq!(
        select(&json_only, Some("text/html"), ""),
        Negotiated::NotAcceptable
    );
    let html_first: Vec<_> = defaults().into_iter().rev().collect();
    let n = Negotiation {
        renderers: &html_first,
        url_format_override: Some("format"),
        accept_json: None,
        accept_any: None,
    };
    assert!(!n.failures_render_as_json());
    assert_eq!(n.select(None, b"", None), html());
}

/// `*/*` and no `Accept` skip parsing: the same answer as the general path gives for the
/// token `*/*` (reached here through a space, which the parser strips and the shortcut does
/// not take), whatever the renderers, including ones with parameters `*/*` cannot satisfy.
#[test]
fn the_any_media_type_shortcut_agrees_with_the_parser() {
    let custom = |media_type: &str, renders_json: bool| {
        Arc::new(Renderer::new("Custom", media_type, "custom", renders_json).unwrap())
    };
    let lists: Vec<Vec<Arc<Renderer>>> = vec![
        defaults(),
        defaults().into_iter().rev().collect(),
        vec![],
        vec![Arc::new(
            builtin_renderer("MultiPartRenderer", "MultiPartRenderer").unwrap(),
        )],
        vec![
            Arc::new(builtin_renderer("MultiPartRenderer", "MultiPartRenderer").unwrap()),
            custom("application/json; q=0.5", true),
        ],
        vec![
            custom("application/json; indent=4", true),
            custom("text/plain", false),
        ],
    ];
    for renderers in &lists {
        // The answer for `application/json` worked out at load is the parser's.
        let known = Negotiation::select_json(renderers);
        for query in ["", "x=1", "format=json"] {
            let with_known = Negotiation {
                renderers,
                url_format_override: Some("format"),
                accept_json: Some(&known),
                accept_any: None,
            }
            .select(Some(b"application/json"), query.as_bytes(), None);
            assert_eq!(with_known, select(renderers, Some("application/json"), query));
        }
        let parsed = select(renderers, Some(" */*"), "");
        assert_eq!(select(renderers, None, ""), parsed);
        assert_eq!(select(renderers, Some("*/*"), ""), parsed);
        assert_eq!(select(renderers, Some("*/*"), "x=1"), parsed);
        // Both answers worked out at load, borrowed or cloned, are what selecting gives,
        // whatever the format, query and `URL_FORMAT_OVERRIDE`.
        let any = Negotiation::select_any(renderers);
        for url_format_override in [Some("format"), None] {
            let loaded = Negotiation {
                renderers,
                url_format_override,
                accept_json: Some(&known),
                accept_any: Some(&any),
            };
            let general = Negotiation {
                accept_json: None,
                accept_any: None,
                ..loaded
            };
            let accepts: [Option<&[u8]>; 5] =
                [None, Some(b"*/*"), Some(b" */*"), Some(b"application/json"), Some(b"text/html")];
            for accept in accepts {
                for query in ["", "x=1", "format=json", "format=api"] {
                    for suffix in [None, Some(""), Some("json"), Some("api")] {
                        let expected = general.select(accept, query.as_bytes(), suffix);
                        assert_eq!(loaded.select(accept, query.as_bytes(), suffix), expected);
                        if let Some(known) = loaded.known(accept, query.as_bytes(), suffix) {
                            assert_eq!(known, &expected, "{accept:?} {query:?} {suffix:?}");
                        }
                    }
                }
            }
        }
    }
}
