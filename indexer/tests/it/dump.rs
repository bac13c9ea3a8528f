//! A backend-neutral text dump of everything the index holds (minus surrogate ids), to compare
//! an index built under faults with one built cleanly.

use modelmart_indexer::Db;

const QUERIES: [&str; 6] = [
    "SELECT kind || '|' || CAST(block_number AS TEXT) || '|' || CAST(log_index AS TEXT) || '|' || tx_hash || '|' || data \
     FROM events ORDER BY block_number, log_index",
    "SELECT address || '|' || status || '|' || stake || '|' || event || '|' || CAST(block_number AS TEXT) || '|' || \
     COALESCE(CAST(superseded_at AS TEXT), '-') FROM operators ORDER BY address, block_number, log_index",
    "SELECT CAST(model_id AS TEXT) || '|' || status || '|' || price_per_row || '|' || CAST(block_number AS TEXT) || '|' || \
     COALESCE(CAST(superseded_at AS TEXT), '-') FROM models ORDER BY model_id, block_number, log_index",
    "SELECT key_hash || '|' || status || '|' || CAST(block_number AS TEXT) || '|' || \
     COALESCE(CAST(superseded_at AS TEXT), '-') FROM keys ORDER BY key_hash, block_number, log_index",
    "SELECT CAST(job_id AS TEXT) || '|' || status || '|' || input_hash || '|' || COALESCE(result_hash, '-') || '|' || \
     CAST(block_number AS TEXT) || '|' || COALESCE(CAST(superseded_at AS TEXT), '-') FROM jobs ORDER BY job_id, block_number, log_index",
    "SELECT account || '|' || token || '|' || balance || '|' || credited_total || '|' || CAST(block_number AS TEXT) || '|' || \
     COALESCE(CAST(superseded_at AS TEXT), '-') FROM balances ORDER BY account, token, block_number, log_index",
];

/// Every row of every table as text lines.
pub(crate) async fn dump(db: &Db) -> eyre::Result<Vec<String>> {
    let mut out = Vec::new();
    for q in QUERIES {
        out.push(format!("## {}", &q[q.find("FROM").unwrap_or(0)..]));
        out.extend(sqlx::query_scalar::<_, String>(q).fetch_all(db.pool()).await?);
    }
    if let Some(c) = db.cursor().await? {
        out.push(format!("cursor {} {}", c.block_number, c.block_hash));
    }
    Ok(out)
}

/// Panic-free comparison with a readable first difference.
pub(crate) fn assert_same(a: &[String], b: &[String], what: &str) {
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!("{what}: first difference at line {i}:\n  {:?}\n  {:?}", a.get(i), b.get(i));
    }
}
