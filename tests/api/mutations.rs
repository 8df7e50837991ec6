//! Property test: mutated vendor fixtures are answered 200 or a JSON 4xx, never a 5xx, and every
//! event a 200 stored is eventually processed or dead-lettered (nothing stays pending).

use crate::helpers::{Db, TestApp, TestEnv, WEBHOOK_SECRET, eventually, spawn_app};
use crate::on_both_databases;
use serde_json::{Value, json};

/// Mutants made of each fixture.
const MUTANTS_PER_FIXTURE: usize = 6;

/// A small deterministic generator (xorshift64*), so a failure replays with the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The get.chat webhook bodies the repository carries as fixtures.
fn getchat_fixtures() -> Vec<Value> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut fixtures = Vec::new();
    for dir in ["wa", "getchat"] {
        let mut paths: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
            .expect("fixture dir")
            .map(|entry| entry.expect("fixture entry").path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.ends_with(".json")
                    && (name.starts_with("wa_") || name.starts_with("getchat_webhook_"))
            })
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("fixture");
            fixtures.push(serde_json::from_str(&text).expect("fixture is JSON"));
        }
    }
    fixtures
}

/// Every node of a JSON document, as a path of keys/indexes from the root.
fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(json!(key));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(json!(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn node_at<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |node, step| match step {
        Value::String(key) => &mut node[key.as_str()],
        step => &mut node[step.as_u64().unwrap() as usize],
    })
}

/// What a hostile or clumsy sender puts where a field was.
fn hostile_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(""),
        2 => json!("abc\u{0000}def"),
        3 => json!("9".repeat(70_000)),
        4 => json!(1.844_674_407_370_955_2e19),
        5 => json!(-1),
        6 => json!(true),
        7 => json!({}),
        8 => json!([]),
        9 => json!("../../../../etc/passwd"),
        10 => json!("\u{202e}مرحبا 👋🏽 \u{fffd}"),
        _ => json!(i64::MAX),
    }
}

/// One mutant of `fixture`: a field replaced or removed, or the serialised text damaged.
fn mutate(fixture: &Value, rng: &mut Rng) -> Vec<u8> {
    let mut value = fixture.clone();
    let mut all = Vec::new();
    paths(&value, &mut Vec::new(), &mut all);
    let path = all[rng.below(all.len())].clone();
    match rng.below(5) {
        0 | 1 => *node_at(&mut value, &path) = hostile_value(rng),
        2 if !path.is_empty() => {
            let (last, parent) = path.split_last().unwrap();
            match (node_at(&mut value, parent), last) {
                (Value::Object(map), Value::String(key)) => {
                    map.remove(key);
                }
                (Value::Array(items), index) => {
                    let copy = items[index.as_u64().unwrap() as usize].clone();
                    items.push(copy);
                }
                _ => {}
            }
        }
        3 => {
            let text = value.to_string().into_bytes();
            return text[..rng.below(text.len())].to_vec();
        }
        _ => {
            let mut text = value.to_string().into_bytes();
            let at = rng.below(text.len());
            text[at] = [0xff, 0x00, b'"', b'{', b'\\'][rng.below(5)];
            return text;
        }
    }
    value.to_string().into_bytes()
}

/// Post one body; the answer must be 200 or a JSON refusal.
async fn post_and_check(app: &TestApp, path: &str, body: Vec<u8>) -> u16 {
    let response = app
        .client
        .post(format!("{}{path}?auth={WEBHOOK_SECRET}", app.address))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("the app answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let shown = String::from_utf8_lossy(&body[..body.len().min(600)]).into_owned();
    assert!(
        status == 200 || (400..500).contains(&status),
        "{status} for {shown}: {text}"
    );
    if status != 200 {
        let refusal: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("a JSON refusal, got {status} {text:?} for {shown}"));
        assert!(refusal["code"].is_string() && refusal["detail"].is_string());
    }
    status
}

async fn qontak_fixtures(env: &TestEnv) -> Vec<Value> {
    (0..4)
        .map(|i| {
            let room = env.qontak.add_room(&format!("62812000000{i}"), "Budi");
            env.qontak
                .customer_text(&room, "Halo, pesanan saya belum sampai")
        })
        .collect()
}

on_both_databases!(
    mutated_fixtures_get_200_or_a_json_4xx_and_nothing_stays_pending,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let mut rng = Rng(0x6f6d_6e69_6272_6964);
        let targets = [
            ("/webhooks/getchat/sales", getchat_fixtures()),
            ("/webhooks/qontak/jakarta", qontak_fixtures(&env).await),
        ];
        let (mut accepted, mut refused) = (0, 0);
        for (path, fixtures) in &targets {
            assert!(!fixtures.is_empty());
            for fixture in fixtures {
                for _ in 0..MUTANTS_PER_FIXTURE {
                    match post_and_check(&app, path, mutate(fixture, &mut rng)).await {
                        200 => accepted += 1,
                        _ => refused += 1,
                    }
                }
            }
        }
        assert!(
            accepted > 0 && refused > 0,
            "{accepted} accepted, {refused} refused"
        );
        let store = env.store().await;
        eventually("every stored event processed or dead-lettered", || async {
            (store.pending_count().await.ok()? == 0).then_some(())
        })
        .await;
        eprintln!("{accepted} mutants accepted, {refused} refused");
        app.stop().await;
    }
);
