//! The names of a call's arguments, checked against its tool's spec before
//! the call runs: a name the tool does not take (a typo, a guess) would
//! otherwise be ignored and the call run on defaults the model did not
//! mean (a wait given `timeout` for `timeout_secs` ran for 30 s).

use heimdall_client::nearest::closest;
use serde_json::{Map, Value};

use crate::conversation::ToolSpec;

/// Refuse the arguments `args` (a JSON object) of a call to `spec` if any
/// name is not among the spec's properties: the error names each one, the
/// argument meant when one is close, and every argument the tool takes.
pub(super) fn check(spec: &ToolSpec, args: &Map<String, Value>) -> Result<(), String> {
    let takes: Vec<&str> = spec.parameters["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let unknown: Vec<String> = args
        .keys()
        .filter(|k| !takes.contains(&k.as_str()))
        .map(|k| match meant(k, &takes) {
            Some(m) => format!("`{k}` (did you mean `{m}`?)"),
            None => format!("`{k}`"),
        })
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let plural = if unknown.len() == 1 { "" } else { "s" };
    let taken = if takes.is_empty() {
        " none".to_string()
    } else {
        format!(": {}", takes.join(", "))
    };
    Err(format!(
        "{} has no argument{plural} {}; it takes{taken}. The call was not run",
        spec.name,
        unknown.join(", "),
    ))
}

/// The argument of `takes` that `word` most likely means: the nearest by
/// edit distance, case aside, else one whose name without its unit `word`
/// is near (`timeout` for `timeout_secs`, `idle` for `idle_ms`).
fn meant<'a>(word: &str, takes: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    let word = word.as_str();
    closest(word, takes.iter().copied()).or_else(|| {
        let stems = || {
            takes
                .iter()
                .filter_map(|t| t.rsplit_once('_').map(|(stem, _)| (stem, *t)))
        };
        let stem = closest(word, stems().map(|(stem, _)| stem))?;
        stems().find(|(s, _)| *s == stem).map(|(_, t)| t)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(properties: Value, args: Value) -> Result<(), String> {
        let spec = ToolSpec {
            name: "tool".into(),
            description: String::new(),
            parameters: json!({"type": "object", "properties": properties}),
        };
        check(&spec, args.as_object().unwrap())
    }

    #[test]
    fn every_unknown_name_is_named_with_the_one_meant_and_those_taken() {
        let props = json!({"id": {}, "timeout_secs": {}, "scrollback_lines": {}});
        assert_eq!(refusal(props.clone(), json!({"id": "a"})), Ok(()));
        assert_eq!(
            refusal(
                props.clone(),
                json!({"id": "a", "timeout": 1, "scrollback": 3, "zork": 1, "ID": "b"})
            ),
            Err(
                "tool has no arguments `ID` (did you mean `id`?), `scrollback` (did you mean \
                 `scrollback_lines`?), `timeout` (did you mean `timeout_secs`?), `zork`; it \
                 takes: id, scrollback_lines, timeout_secs. The call was not run"
                    .into()
            )
        );
        assert_eq!(
            refusal(props, json!({"timeout_ms": 1})),
            Err(
                "tool has no argument `timeout_ms` (did you mean `timeout_secs`?); it takes: \
                 id, scrollback_lines, timeout_secs. The call was not run"
                    .into()
            )
        );
        assert_eq!(
            refusal(json!({}), json!({"all": true})),
            Err("tool has no argument `all`; it takes none. The call was not run".into())
        );
    }
}
