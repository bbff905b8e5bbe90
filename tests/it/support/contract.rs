//! Discord's published contract, held against every request the bot sends to the fake Discord:
//! `tests/fixtures/discord/openapi.json` is Discord's own OpenAPI description (the
//! `discord/discord-api-spec` repository, MIT; the commit is in the fixtures' README). A request
//! whose method and path the description does not have, a query parameter it does not declare,
//! or a JSON body its request schema refuses is a violation; the fake records it and fails the
//! test when it is dropped.
//!
//! The schema check is the part of JSON Schema the description uses: `$ref`, `anyOf`/`oneOf`/
//! `allOf`, `type` (also as a list, with `null`), `properties`, `required`,
//! `additionalProperties: false`, `enum`, `const`, string and array lengths, number bounds,
//! `items`. Formats (`snowflake`, `uri`) are not checked.

use std::sync::LazyLock;

use serde_json::Value;

static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/discord/openapi.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/fixtures/discord/openapi.json");
    serde_json::from_str(&text).expect("Discord's OpenAPI JSON")
});

/// Where Discord's documentation and its OpenAPI description disagree, noted once each, with
/// the reason; the documentation is what Discord's servers do.
///
/// - `default_member_permissions`: the documentation (Application Commands, "Application
///   Command Object") gives it as `?string`, "set of permissions represented as a bit set", as
///   every permission bit set is sent (they outgrow JSON's safe integers); the description
///   types it `integer`. serenity sends the documented string, which Discord takes. Checked
///   here as the number the string holds, against the description's bounds.
/// - `content` of a message: the documentation (Messages, "Create Message") allows up to 2000
///   characters; the description says 4000, which only some users' messages may have. Checked
///   at the documented 2000.
const DOCUMENTED_AS_STRING: &[&str] = &["default_member_permissions"];
const DOCUMENTED_MAX_CHARS: &[(&str, usize)] = &[("content", 2000)];

/// The API version prefix of the description's one server (`https://discord.com/api/v10`).
const BASE: &str = "/api/v10";

/// Checks one request; `Err` says what the contract does not allow.
pub fn check(
    method: &str,
    path: &str,
    query: Option<&str>,
    body: Option<&Value>,
) -> Result<(), String> {
    let request = format!("{method} {path}");
    let Some(rest) = path.strip_prefix(BASE) else {
        return Err(format!("{request}: not under {BASE}"));
    };
    let paths = SPEC["paths"].as_object().expect("paths");
    let Some(item) = paths
        .iter()
        .find(|(template, _)| matches_template(template, rest))
        .map(|(_, item)| item)
    else {
        return Err(format!("{request}: no such path in Discord's API"));
    };
    let Some(operation) = item.get(method.to_ascii_lowercase()) else {
        return Err(format!("{request}: the path has no {method}"));
    };
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        let declared: Vec<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .collect();
        // An empty pair (`a=1&`) is no parameter.
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let name = pair.split('=').next().unwrap_or_default();
            if !declared.contains(&name) {
                return Err(format!(
                    "{request}: query parameter {name:?} is not Discord's"
                ));
            }
        }
    }
    if let Some(body) = body {
        let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
        if schema.is_null() {
            return Err(format!("{request}: takes no JSON body"));
        }
        validate(schema, body, "body").map_err(|e| format!("{request}: {e}"))?;
    }
    Ok(())
}

fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

fn resolve(schema: &Value) -> &Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local $ref");
            resolve(
                SPEC.pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference} resolves")),
            )
        }
        None => schema,
    }
}

fn validate(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(schema);
    for key in ["anyOf", "oneOf"] {
        if let Some(alternatives) = schema[key].as_array() {
            let mut why = Vec::new();
            for alternative in alternatives {
                match validate(alternative, value, at) {
                    Ok(()) => return Ok(()),
                    Err(e) => why.push(e),
                }
            }
            return Err(format!("{at}: matches none of {key}: {}", why.join("; ")));
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            validate(part, value, at)?;
        }
    }
    if let Some(types) = types(&schema["type"])
        && !types.iter().any(|t| has_type(t, value))
    {
        return Err(format!("{at}: {value} is not {}", types.join(" or ")));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        return Err(format!("{at}: {value} is not {constant}"));
    }
    let bound = |key: &str| schema[key].as_f64();
    match value {
        Value::String(s) => {
            let n = s.chars().count() as f64;
            if bound("maxLength").is_some_and(|m| n > m)
                || bound("minLength").is_some_and(|m| n < m)
            {
                return Err(format!("{at}: {n} characters is out of bounds"));
            }
        }
        Value::Number(x) => {
            let x = x.as_f64().unwrap_or_default();
            if bound("maximum").is_some_and(|m| x > m) || bound("minimum").is_some_and(|m| x < m) {
                return Err(format!("{at}: {x} is out of bounds"));
            }
        }
        Value::Array(items) => {
            let n = items.len() as f64;
            if bound("maxItems").is_some_and(|m| n > m) || bound("minItems").is_some_and(|m| n < m)
            {
                return Err(format!("{at}: {n} items is out of bounds"));
            }
            if !schema["items"].is_null() {
                for (i, item) in items.iter().enumerate() {
                    validate(&schema["items"], item, &format!("{at}[{i}]"))?;
                }
            }
        }
        Value::Object(fields) => {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !fields.contains_key(name) {
                    return Err(format!("{at}: {name} is required"));
                }
            }
            for (name, field) in fields {
                let documented;
                let field = match field.as_str().and_then(|s| s.parse::<u64>().ok()) {
                    Some(n) if DOCUMENTED_AS_STRING.contains(&name.as_str()) => {
                        documented = Value::from(n);
                        &documented
                    }
                    _ => field,
                };
                if let Some((_, max)) = DOCUMENTED_MAX_CHARS.iter().find(|(n, _)| n == name)
                    && field.as_str().is_some_and(|s| s.chars().count() > *max)
                {
                    return Err(format!("{at}.{name}: longer than the documented {max}"));
                }
                match properties.and_then(|p| p.get(name)) {
                    Some(property) => validate(property, field, &format!("{at}.{name}"))?,
                    None if schema["additionalProperties"] == false => {
                        return Err(format!("{at}: {name} is not a field Discord takes"));
                    }
                    None => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn types(t: &Value) -> Option<Vec<&str>> {
    match t {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(list) => Some(list.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn has_type(t: &str, value: &Value) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}
