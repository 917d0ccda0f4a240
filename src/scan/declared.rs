//! The outputs and variables a root module declares, read from its `.tf`
//! files with hcl-edit: what `projects[].inputs` is checked against.

use std::path::Path;

use crate::config::inputs::Declared;

/// What the `.tf` files directly in `dir` declare; `None` when the
/// directory cannot be read or a file does not parse (then nothing is
/// judged from it: Terraform will say what is wrong).
pub fn declared(dir: &Path) -> Option<Declared> {
    let mut out = Declared::default();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf") && p.is_file())
        .collect();
    entries.sort();
    for file in entries {
        let text = std::fs::read_to_string(&file).ok()?;
        let body = hcl_edit::parser::parse_body(&text).ok()?;
        for block in body.blocks() {
            let Some(label) = block.labels.first().map(|l| l.as_str().to_string()) else {
                continue;
            };
            match block.ident.as_str() {
                "output" => {
                    out.outputs.insert(label);
                }
                "variable" => {
                    out.variables.insert(label);
                }
                _ => {}
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn outputs_and_variables_are_read_from_every_tf_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.tf"),
            "variable \"vpc_id\" {}\noutput \"id\" {\n  value = 1\n}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("outputs.tf"),
            "output \"name\" { value = \"x\" }\n",
        )
        .unwrap();
        let d = super::declared(dir.path()).unwrap();
        assert_eq!(d.outputs.into_iter().collect::<Vec<_>>(), ["id", "name"]);
        assert_eq!(d.variables.into_iter().collect::<Vec<_>>(), ["vpc_id"]);
        assert!(super::declared(&dir.path().join("absent")).is_none());
    }
}
