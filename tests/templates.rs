//! The templates keep their shared pieces in one place: every CSRF token, field error slot
//! and `aria-invalid` comes from `templates/macros/forms.html`, every mail frame from
//! `templates/emails/layout.*`, and no template compares `Debug` output.

use std::fs;
use std::path::{Path, PathBuf};

fn templates(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("templates directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            templates(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn all() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut paths = Vec::new();
    templates(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .strip_prefix(&root)
                .expect("under templates")
                .to_string_lossy()
                .replace('\\', "/");
            (name, fs::read_to_string(&p).expect("template text"))
        })
        .collect()
}

#[test]
fn forms_take_their_token_error_slot_and_aria_from_the_macros() {
    let mut offenders = Vec::new();
    for (name, text) in all() {
        if name == "macros/forms.html" {
            continue;
        }
        for marker in ["csrf_token", "class=\"field-error\"", "aria-invalid"] {
            if text.contains(marker) {
                offenders.push(format!("{name}: {marker}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "write these with templates/macros/forms.html instead: {offenders:#?}"
    );
}

#[test]
fn every_mail_extends_the_shared_frame() {
    for (name, text) in all() {
        let Some(mail) = name.strip_prefix("emails/") else {
            continue;
        };
        if mail.starts_with("layout.") || mail == "macros.html" {
            continue;
        }
        let ext = mail.rsplit('.').next().unwrap_or_default();
        assert!(
            text.starts_with(&format!("{{% extends \"emails/layout.{ext}\" %}}")),
            "{name} should extend emails/layout.{ext}"
        );
        assert!(
            !text.contains("<html") && !text.contains("<body"),
            "{name} holds its own frame"
        );
    }
}

#[test]
fn no_template_compares_debug_output() {
    for (name, text) in all() {
        assert!(
            !text.contains("{:?}") && !text.contains("{:#?}"),
            "{name} formats Debug output"
        );
    }
}
