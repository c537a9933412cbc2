use super::*;

fn flags(url: &str) -> Flags {
    Flags {
        url: url.into(),
        ..Flags::default()
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn base_paths_are_normalised_and_urls_refused() {
    assert_eq!(parse_base_path("api/v2/").unwrap(), "/api/v2");
    assert_eq!(parse_base_path("/").unwrap(), "/");
    assert!(parse_base_path("http://h/api").is_err());
    assert!(parse_base_path("/api?x=1").is_err());
}

#[test]
fn lifetimes_parse_with_units_and_reject_nonsense() {
    assert_eq!(parse_lifetime("90m").unwrap(), 5400);
    assert_eq!(parse_lifetime("24h").unwrap(), 86_400);
    assert_eq!(parse_lifetime("7d").unwrap(), 604_800);
    assert_eq!(parse_lifetime("3600").unwrap(), 3600);
    assert_eq!(parse_lifetime("15s").unwrap(), 15);
    assert!(parse_lifetime("0h").is_err());
    assert!(parse_lifetime("2w").is_err());
    assert!(parse_lifetime("h").is_err());
}

#[test]
fn callback_options_are_parsed_and_checked() {
    let f = Flags {
        callback_listen: Some("0.0.0.0:8099".into()),
        callback_url: Some("http://10.0.0.5:8099/cb".into()),
        callback_collector: Some("https://collector.example.net/in".into()),
        ..flags("http://127.0.0.1:5000")
    };
    let cfg = resolve(&f, FileConfig::default()).unwrap();
    assert_eq!(cfg.callback.listen, Some("0.0.0.0:8099".parse().unwrap()));
    assert_eq!(
        cfg.callback.url.as_ref().map(Url::as_str),
        Some("http://10.0.0.5:8099/cb")
    );
    assert!(cfg.callback.collector.is_some());
    let none = resolve(&flags("http://127.0.0.1:5000"), FileConfig::default()).unwrap();
    assert_eq!(none.callback, Default::default());
    let bad = [
        Flags {
            callback_listen: Some("localhost".into()),
            ..flags("http://127.0.0.1:5000")
        },
        Flags {
            callback_url: Some("ftp://h/x".into()),
            ..flags("http://127.0.0.1:5000")
        },
        Flags {
            callback_collector: Some("not a url".into()),
            ..flags("http://127.0.0.1:5000")
        },
    ];
    for f in bad {
        assert!(resolve(&f, FileConfig::default()).is_err(), "{f:?}");
    }
}

#[test]
fn flags_override_the_file_which_overrides_defaults() {
    let file: FileConfig = toml::from_str(
        r#"
        [scan]
        mode = "active"
        concurrency = 3
        budget = 500
        [[identity]]
        name = "alice"
        username = "alice"
        password = "pw-alice-1"
        login = "POST /api/auth/login"
        "#,
    )
    .unwrap();
    let mut f = flags("http://127.0.0.1:5000");
    f.limits.concurrency = Some(5);
    let cfg = resolve(&f, file).unwrap();
    assert_eq!(cfg.mode, Mode::Active);
    assert_eq!(cfg.transport.concurrency, 5);
    assert_eq!(cfg.transport.budget, Some(500));
    let login = cfg.identities[0].login.as_ref().unwrap();
    assert_eq!(
        login.operation,
        Some((Method::Post, "/api/auth/login".to_string()))
    );
    assert_eq!(
        cfg.transport.rate_per_host,
        TransportConfig::default().rate_per_host
    );
}

#[test]
fn an_oauth2_client_is_read_and_its_secret_is_a_secret() {
    let file: FileConfig = toml::from_str(
        r#"
        [[identity]]
        name = "alice"
        username = "alice"
        password = "pw-alice-1"
        client_id = "my-client"
        client_secret = "client-secret-1"
        "#,
    )
    .unwrap();
    let cfg = resolve(&flags("http://h"), file).unwrap();
    let login = cfg.identities[0].login.as_ref().unwrap();
    assert_eq!(login.client_id.as_deref(), Some("my-client"));
    assert_eq!(login.client_secret.as_deref(), Some("client-secret-1"));
    assert!(cfg.identities[0]
        .secrets()
        .contains(&"client-secret-1".to_string()));
}

#[test]
fn secrets_named_by_environment_variables_are_read_through_the_lookup() {
    let file: FileConfig = toml::from_str(
        "[[identity]]\nname = \"alice\"\nusername = \"alice\"\npassword_env = \"ALICE_PW\"",
    )
    .unwrap();
    let env = |v: &str| (v == "ALICE_PW").then(|| "from-env-1".to_string());
    let cfg = resolve_with(&flags("http://h"), file, &env).unwrap();
    assert_eq!(
        cfg.identities[0].login.as_ref().unwrap().password,
        "from-env-1"
    );
    let file: FileConfig = toml::from_str(
        "[[identity]]\nname = \"alice\"\nusername = \"alice\"\npassword_env = \"ALICE_PW\"",
    )
    .unwrap();
    let err = resolve_with(&flags("http://h"), file, &no_env).unwrap_err();
    assert!(err.to_string().contains("ALICE_PW is not set"), "{err}");
}

#[test]
fn curl_style_header_and_cookie_make_one_identity() {
    let f = Flags {
        headers: vec!["Authorization: Bearer abc".into()],
        cookies: vec!["a=1; b=2".into()],
        ..flags("http://h")
    };
    let cfg = resolve(&f, FileConfig::default()).unwrap();
    assert_eq!(cfg.identities.len(), 1);
    assert_eq!(
        cfg.identities[0].headers,
        vec![("Authorization".into(), "Bearer abc".into())]
    );
    assert_eq!(cfg.identities[0].cookies.len(), 2);
}

#[test]
fn a_spec_given_as_text_is_a_text_source() {
    let f = Flags {
        spec_text: Some(("stored.json".into(), "{}".into())),
        spec: Some("ignored.json".into()),
        ..flags("http://h")
    };
    let cfg = resolve(&f, FileConfig::default()).unwrap();
    assert!(matches!(cfg.spec, SpecSource::Text { ref name, .. } if name == "stored.json"));
    let f = Flags {
        spec: Some("https://h/openapi.json".into()),
        ..flags("http://h")
    };
    assert!(matches!(
        resolve(&f, FileConfig::default()).unwrap().spec,
        SpecSource::Url(_)
    ));
}

#[test]
fn mistakes_are_reported_not_ignored() {
    assert!(toml::from_str::<FileConfig>("[scan]\nmdoe = \"safe\"").is_err());
    assert!(resolve(&flags("ftp://h"), FileConfig::default()).is_err());
    let f = Flags {
        allow_delete: true,
        ..flags("http://h")
    };
    assert!(resolve(&f, FileConfig::default()).is_err());
    let f = Flags {
        checks: vec!["auth.nope".into()],
        ..flags("http://h")
    };
    assert!(resolve(&f, FileConfig::default()).is_err());
    let file: FileConfig = toml::from_str("[[identity]]\nname = \"x\"\nusername = \"u\"").unwrap();
    assert!(resolve(&flags("http://h"), file).is_err());
    for name in ["anonymous", "*", "*privileged", ""] {
        let file: FileConfig = toml::from_str(&format!(
            "[[identity]]\nname = \"{name}\"\nheaders = {{ X-Api-Key = \"k\" }}"
        ))
        .unwrap();
        let err = resolve(&flags("http://h"), file)
            .expect_err(name)
            .to_string();
        assert!(err.contains("name"), "{name}: {err}");
    }
    let file: FileConfig =
        toml::from_str("[[identity]]\nname = \"ci-bot\"\nheaders = { X-Api-Key = \"k\" }").unwrap();
    assert!(resolve(&flags("http://h"), file).is_ok());
}

#[test]
fn the_rate_adapts_under_a_cap_is_fixed_on_request_and_zero_removes_it() {
    let rate = |rate: Option<f64>, fixed: Option<bool>| {
        let mut f = flags("http://127.0.0.1:5000");
        f.limits.rate = rate;
        f.limits.fixed_rate = fixed;
        resolve(&f, FileConfig::default())
            .map(|c| (c.transport.rate_per_host, c.transport.adaptive_rate))
    };
    assert_eq!(
        rate(None, None).unwrap(),
        (None, true),
        "the default adapts, no cap"
    );
    assert_eq!(rate(Some(20.0), None).unwrap(), (Some(20.0), true));
    assert_eq!(rate(Some(20.0), Some(true)).unwrap(), (Some(20.0), false));
    assert_eq!(
        rate(Some(0.0), None).unwrap(),
        (None, false),
        "0: no limiter at all"
    );
    assert!(rate(None, Some(true)).is_err(), "a fixed rate needs a rate");
    assert!(rate(Some(-1.0), None).is_err());
    let file: FileConfig = toml::from_str("[scan]\nrate = 30.0\nfixed_rate = true\n").unwrap();
    let cfg = resolve(&flags("http://127.0.0.1:5000"), file).unwrap();
    assert_eq!(
        (cfg.transport.rate_per_host, cfg.transport.adaptive_rate),
        (Some(30.0), false)
    );
}
