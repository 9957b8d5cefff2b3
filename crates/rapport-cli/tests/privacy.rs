//! The privacy commands end to end on SQLite: consent grant/withdraw/request/confirm/show,
//! `import consents`, a consent segment, `export` (valid JSON holding the person's data),
//! `erase` (idempotent; the export afterwards holds none of it), retention in the sweep.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::path::Path;
use support::{ok, rapport};

#[test]
fn consent_export_erase_and_retention_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("customers.csv"),
        "customer_id,email,name\nc1,zoe.quill@example.com,Zoe Quill\nc2,max.hart@example.com,Max Hart\n",
    )
    .unwrap();
    std::fs::write(
        d.join("tx.csv"),
        "customer_id,date,amount\nc1,2026-01-05,19.99\nc2,2020-01-05,5.00\n",
    )
    .unwrap();
    ok(d, &["import", "customers", "customers.csv", "--quiet"]);
    ok(d, &["import", "transactions", "tx.csv", "--quiet"]);

    ok(
        d,
        &[
            "consent",
            "grant",
            "c1",
            "marketing",
            "email",
            "--source",
            "signup-form",
            "--evidence",
            "form-77",
        ],
    );
    ok(
        d,
        &[
            "consent",
            "request",
            "zoe.quill@example.com",
            "marketing",
            "sms",
        ],
    );
    ok(
        d,
        &[
            "consent",
            "confirm",
            "c1",
            "marketing",
            "sms",
            "--source",
            "sms-link",
        ],
    );
    let seg = ok(
        d,
        &["segment", r#"consent("marketing", "email")"#, "--json"],
    );
    assert!(
        seg.contains("c1") || seg.contains("zoe") || seg.matches("\"id\"").count() == 1,
        "{seg}"
    );
    ok(
        d,
        &[
            "consent",
            "withdraw",
            "c1",
            "marketing",
            "email",
            "--source",
            "unsubscribe",
        ],
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(d, &["consent", "show", "c1", "--json"])).unwrap();
    assert_eq!(shown["history"].as_array().unwrap().len(), 4);
    let state = |p: &str, c: &str| {
        shown["current"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["purpose"] == p && e["channel"] == c)
            .map(|e| e["state"].clone())
    };
    assert_eq!(state("marketing", "email"), Some("withdrawn".into()));
    assert_eq!(state("marketing", "sms"), Some("granted".into()));

    // Import: every row checked before the first write.
    std::fs::write(
        d.join("consents.csv"),
        "customer,purpose,channel,state,at,source\nc2,marketing,email,granted,2025-01-01,paper\nc2,analytics,any,withdrawn,2025-02-01T10:00:00Z,settings\n",
    )
    .unwrap();
    assert!(ok(d, &["import", "consents", "consents.csv"]).contains("recorded 2"));
    std::fs::write(
        d.join("bad.csv"),
        "customer,purpose,channel,state\nc2,marketing,email,granted\nc2,spam,email,granted\n",
    )
    .unwrap();
    let bad = rapport(d, &["import", "consents", "bad.csv"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 3"));
    let c2: serde_json::Value =
        serde_json::from_str(&ok(d, &["consent", "show", "c2", "--json"])).unwrap();
    assert_eq!(
        c2["history"].as_array().unwrap().len(),
        2,
        "a bad file wrote rows"
    );
    // A last row naming nobody: the earlier rows (of two customers) are not written either,
    // as the import is one changeset.
    std::fs::write(
        d.join("missing.csv"),
        "customer,purpose,channel,state\nc2,profiling,any,granted\nc1,analytics,any,granted\nc2,marketing,post,pending\nnobody-9,marketing,email,granted\n",
    )
    .unwrap();
    let missing = rapport(d, &["import", "consents", "missing.csv"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr).into_owned();
    assert!(err.contains("line 5: no customer `nobody-9`"), "{err}");
    for (key, entries) in [("c1", 4), ("c2", 2)] {
        let shown: serde_json::Value =
            serde_json::from_str(&ok(d, &["consent", "show", key, "--json"])).unwrap();
        assert_eq!(
            shown["history"].as_array().unwrap().len(),
            entries,
            "{key}: a refused import wrote rows"
        );
    }
    // The same file without its last row: three entries, in one changeset (c2, with two of
    // them, is written once: one version on).
    let version = |key: &str| {
        let doc: serde_json::Value = serde_json::from_str(&ok(d, &["export", key])).unwrap();
        doc["customer"]["version"].as_u64().unwrap()
    };
    let (v1, v2) = (version("c1"), version("c2"));
    let good = "customer,purpose,channel,state\nc2,profiling,any,granted\nc1,analytics,any,granted\nc2,marketing,post,pending\n";
    std::fs::write(d.join("three.csv"), good).unwrap();
    assert!(ok(d, &["import", "consents", "three.csv"]).contains("recorded 3 consent entries"));
    assert_eq!((version("c1"), version("c2")), (v1 + 1, v2 + 1));
    let c2: serde_json::Value =
        serde_json::from_str(&ok(d, &["consent", "show", "c2", "--json"])).unwrap();
    assert_eq!(c2["history"].as_array().unwrap().len(), 4);

    // Export holds the person's data; erase removes it; erase again is the same record.
    let export = ok(d, &["export", "c1"]);
    let doc: serde_json::Value = serde_json::from_str(&export).unwrap();
    assert_eq!(doc["schema_version"], 3);
    assert!(export.contains("zoe.quill@example.com") && export.contains("Zoe Quill"));
    let erased = ok(
        d,
        &[
            "erase",
            "c1",
            "--reason",
            "gdpr-art17",
            "--requester",
            "ticket-9",
        ],
    );
    assert_eq!(ok(d, &["erase", "c1"]), erased);
    assert!(!erased.contains("zoe"));
    let after = ok(d, &["export", "c1"]);
    assert!(
        !after.contains("zoe.quill") && !after.contains("Zoe Quill") && !after.contains("form-77")
    );
    assert!(
        after.contains("19.99"),
        "the purchase amount is kept: {after}"
    );

    // Retention: c2 has been inactive since 2020; the dry run counts, the run erases. The
    // policy comes from rapport.toml beside the database (its `[retention]` section, with the
    // automation's `[[rules]]`, which the same sweep runs); the flags win over the file.
    std::fs::write(
        d.join("rapport.toml"),
        "[retention]\ninactive_days = 365\ndry_run = true\n\n\
         [[rules]]\nid = \"win-back\"\ntrigger = { stage_entered = \"silent\" }\n\
         action = { template = \"win-back-offer\", channel = \"email\", purpose = \"marketing\" }\n",
    )
    .unwrap();
    let dry: serde_json::Value = serde_json::from_str(&ok(d, &["sweep"])).unwrap();
    assert!(dry["automation"].is_object(), "{dry}");
    assert_eq!(
        (
            dry["retention"]["due"].as_u64(),
            dry["retention"]["erased"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let run: serde_json::Value =
        serde_json::from_str(&ok(d, &["sweep", "--retention-days", "365"])).unwrap();
    assert_eq!(run["retention"]["erased"].as_u64(), Some(1));
    assert!(!ok(d, &["export", "c2"]).contains("max.hart"));
}

/// `consent show` through a merged key reads the survivor's ledger: the merge moved the
/// loser's entries there.
#[test]
fn consent_show_follows_a_merged_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("customers.csv"),
        "customer_id,email,name\nc1,zoe.quill@example.com,Zoe Quill\nc2,zoe.q@example.com,Zoe Q\n",
    )
    .unwrap();
    ok(d, &["import", "customers", "customers.csv", "--quiet"]);
    for (key, channel, source) in [("c1", "email", "form-c1"), ("c2", "sms", "form-c2")] {
        ok(
            d,
            &[
                "consent",
                "grant",
                key,
                "marketing",
                channel,
                "--source",
                source,
            ],
        );
    }
    ok(d, &["merge", "c1", "c2", "--json"]);
    let show = |key: &str| -> serde_json::Value {
        serde_json::from_str(&ok(d, &["consent", "show", key, "--json"])).unwrap()
    };
    let (survivor, merged) = (show("c1"), show("c2"));
    assert_eq!(merged, survivor, "the merged key reads another ledger");
    assert_eq!(merged["history"].as_array().unwrap().len(), 2);
    let sms = merged["current"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["purpose"] == "marketing" && e["channel"] == "sms")
        .map(|e| e["state"].clone());
    assert_eq!(sms, Some("granted".into()));
    let text = ok(d, &["consent", "show", "c2"]);
    assert!(text.contains("history (2 entries)"), "{text}");
}

/// The database files' bytes (database, WAL, shared memory).
fn raw(dir: &Path, db: &str) -> String {
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(dir.join(format!("{db}{suffix}"))) {
            out.extend(b);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn field_encryption_from_the_keys_section_and_the_keystore_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("customers.csv"),
        "customer_id,email,name\nc1,zoe.quill@example.com,Zoe Quill\nc2,max.hart@example.com,Max Hart\n",
    )
    .unwrap();
    // `[keys] dir` in rapport.toml beside the database.
    std::fs::write(d.join("rapport.toml"), "[keys]\ndir = \"keys\"\n").unwrap();
    ok(d, &["import", "customers", "customers.csv", "--quiet"]);
    assert!(d.join("keys").is_dir());
    let files = raw(d, "rapport.db");
    assert!(!files.contains("zoe.quill") && !files.contains("Zoe Quill"));
    // Lookups by email go through the blind index; the export opens the sealed profile.
    let export = ok(d, &["export", "zoe.quill@example.com"]);
    assert!(export.contains("zoe.quill@example.com") && export.contains("Zoe Quill"));
    ok(d, &["erase", "c1"]);
    let export = ok(d, &["export", "c1"]);
    assert!(!export.contains("zoe.quill") && !export.contains("Zoe Quill"));
    assert!(ok(d, &["export", "c2"]).contains("max.hart@example.com"));
    let files = raw(d, "rapport.db");
    assert!(!files.contains("zoe.quill") && !files.contains("max.hart"));

    // `--keystore DIR` wins over the configuration's `[keys]`.
    ok(
        d,
        &[
            "--db",
            "sqlite://other.db",
            "--keystore",
            "k2",
            "import",
            "customers",
            "customers.csv",
            "--quiet",
        ],
    );
    assert!(!raw(d, "other.db").contains("max.hart"));
    let export = ok(
        d,
        &[
            "--db",
            "sqlite://other.db",
            "--keystore",
            "k2",
            "export",
            "c2",
        ],
    );
    assert!(export.contains("max.hart@example.com"));
    // A bad [keys] section is an error naming the key.
    std::fs::write(d.join("rapport.toml"), "[keys]\ndirectory = \"keys\"\n").unwrap();
    let bad = rapport(d, &["export", "c2"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("keys.directory"));
}
