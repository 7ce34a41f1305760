//! Findings about several containers, pods or nodes said once: messages that differ
//! only in one word (the name of the thing) are grouped, so a report reads
//! "3 containers (rocketchat-1, rocketchat-2, rocketchat-3) on rc-legacy run ..."
//! instead of the same sentence three times.

/// Most names listed in a grouped message (the rest are counted).
const MAX_NAMES: usize = 8;

/// Nouns that name the thing a message is about, singular -> plural.
const NOUNS: &[(&str, &str)] = &[
    ("container", "containers"),
    ("pod", "pods"),
    ("node", "nodes"),
    ("process", "processes"),
    ("bundle", "bundles"),
    ("Deployment", "Deployments"),
    ("StatefulSet", "StatefulSets"),
    ("image", "images"),
];

/// Verbs in the third person singular -> plural, for "N containers ... run".
const VERBS: &[(&str, &str)] = &[
    ("runs", "run"),
    ("is", "are"),
    ("has", "have"),
    ("sets", "set"),
    ("uses", "use"),
    ("was", "were"),
    ("does", "do"),
    ("restarts", "restart"),
    ("reports", "report"),
    ("lacks", "lack"),
];

/// Groups messages that differ in exactly one word, keeping the order of first
/// appearance; messages alone in their group are unchanged.
pub(crate) fn group_messages(msgs: &[&str]) -> Vec<String> {
    let words: Vec<Vec<&str>> = msgs.iter().map(|m| m.split(' ').collect()).collect();
    let mut used = vec![false; msgs.len()];
    let mut out = Vec::new();
    for i in 0..msgs.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        // The word position where the next message differs decides the group.
        let mut pos: Option<usize> = None;
        let mut members = vec![i];
        for j in i + 1..msgs.len() {
            if used[j] || words[j].len() != words[i].len() {
                continue;
            }
            let diff: Vec<usize> = (0..words[i].len())
                .filter(|&k| words[i][k] != words[j][k])
                .collect();
            if let [k] = diff.as_slice()
                && pos.is_none_or(|p| p == *k)
                && is_name(words[i][*k])
                && is_name(words[j][*k])
            {
                pos = Some(*k);
                members.push(j);
                used[j] = true;
            }
        }
        match pos {
            Some(k) if members.len() > 1 => out.push(merge(&words, &members, k)),
            _ => out.push(msgs[i].to_string()),
        }
    }
    out
}

/// Whether a word looks like the name of a container, pod or node (`rocketchat-1`,
/// `node2`, `chat/rc-0588`), not a number, a version or a plain word (`docker`).
fn is_name(w: &str) -> bool {
    w.chars().any(char::is_alphabetic)
        && w.chars()
            .any(|c| c.is_ascii_digit() || matches!(c, '-' | '_' | '/' | '.'))
        && !w.starts_with(|c: char| c.is_ascii_digit())
}

/// The grouped message of `members`, which differ only at word `k`.
fn merge(words: &[Vec<&str>], members: &[usize], k: usize) -> String {
    let first = &words[members[0]];
    // Punctuation every variant ends with stays after the list.
    let tail: String = {
        let w = first[k];
        let punct: String = w
            .chars()
            .rev()
            .take_while(|c| matches!(c, ',' | ':' | ';' | '.' | ')'))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if members.iter().all(|&m| words[m][k].ends_with(&punct)) {
            punct
        } else {
            String::new()
        }
    };
    let names: Vec<&str> = members
        .iter()
        .map(|&m| &words[m][k][..words[m][k].len() - tail.len()])
        .collect();
    let n = names.len();
    let listed = if n > MAX_NAMES {
        format!(
            "{}, and {} more",
            names[..MAX_NAMES].join(", "),
            n - MAX_NAMES
        )
    } else {
        names.join(", ")
    };
    let mut w: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    let noun = k
        .checked_sub(1)
        .and_then(|p| NOUNS.iter().find(|(s, _)| *s == first[p]).map(|x| (p, x.1)));
    let verb = (k + 1..first.len()).find(|&v| VERBS.iter().any(|(s, _)| *s == first[v]));
    // "container c of pod a sets" -> "container c of each of 3 pods (a, b, c) sets":
    // the subject (the container) stays one, so the verb does too.
    let of_noun = noun.filter(|&(p, _)| p > 0 && first[p - 1] == "of");
    match (noun, verb) {
        (Some((p, plural)), _) if of_noun.is_some() => {
            w[k] = format!("({listed}){tail}");
            w[p] = format!("each of {n} {plural}");
        }
        // "container a on x runs" -> "3 containers (a, b, c) on x run".
        (Some((p, plural)), Some(v)) => {
            w[v] = VERBS
                .iter()
                .find(|(s, _)| *s == first[v])
                .map_or_else(|| first[v].to_string(), |x| x.1.to_string());
            w[k] = format!("({listed}){tail}");
            // "Kubernetes node a has" -> "3 Kubernetes nodes (a, b, c) have".
            match p.checked_sub(1).filter(|&q| first[q] == "Kubernetes") {
                Some(q) => {
                    w[q] = format!("{n} Kubernetes");
                    w[p] = plural.to_string();
                }
                None => w[p] = format!("{n} {plural}"),
            }
        }
        // "pod a has" with no known verb: "each of 3 pods (a, b, c) has".
        (Some((p, plural)), None) => {
            w[k] = format!("({listed}){tail}");
            w[p] = format!("each of {n} {plural}");
        }
        // A bare name: "each of a, b and c is ...".
        (None, _) => {
            let joined = if n > MAX_NAMES {
                listed
            } else {
                match names.split_last() {
                    Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                    None => String::new(),
                }
            };
            w[k] = format!("each of {joined}{tail}");
        }
    }
    w.join(" ")
}

#[cfg(test)]
mod tests {
    use super::group_messages;

    #[test]
    fn sentences_about_several_things_are_said_once() {
        let m = [
            "container rc1 on n runs x:1, not official",
            "container rc2 on n runs x:1, not official",
            "container rc3 on n runs x:1, not official",
            "something else",
        ];
        assert_eq!(
            group_messages(&m),
            [
                "3 containers (rc1, rc2, rc3) on n run x:1, not official",
                "something else"
            ]
        );
        let m = [
            "scaled: rc1 on n is a plain container",
            "scaled: rc2 on n is a plain container",
        ];
        assert_eq!(
            group_messages(&m),
            ["scaled: each of rc1 and rc2 on n is a plain container"]
        );
        let m = ["node1 (x) has 2 vCPU;", "node2 (x) has 2 vCPU;"];
        assert_eq!(
            group_messages(&m),
            ["each of node1 and node2 (x) has 2 vCPU;"]
        );
        let m = [
            "Kubernetes node w-1 (x) has 8 vCPU (needs 3)",
            "Kubernetes node w-2 (x) has 8 vCPU (needs 3)",
        ];
        assert_eq!(
            group_messages(&m),
            ["2 Kubernetes nodes (w-1, w-2) (x) have 8 vCPU (needs 3)"]
        );
        let m = [
            "container rc of pod ns/a-1 sets X=1",
            "container rc of pod ns/a-2 sets X=1",
        ];
        assert_eq!(
            group_messages(&m),
            ["container rc of each of 2 pods (ns/a-1, ns/a-2) sets X=1"]
        );
        let m = ["pod web-1: restarts", "pod web-2: restarts"];
        assert_eq!(group_messages(&m), ["2 pods (web-1, web-2): restart"]);
        // Two words differing: not grouped.
        let m = ["a-1 x 1", "b-1 x 2"];
        assert_eq!(group_messages(&m), ["a-1 x 1", "b-1 x 2"]);
        // Plain words and versions are not names.
        let m = ["the host collector failed", "the docker collector failed"];
        assert_eq!(group_messages(&m), m);
        let m = ["MongoDB 7.0 is old", "MongoDB 8.0 is old"];
        assert_eq!(group_messages(&m), m);
    }
}
