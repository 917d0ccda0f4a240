//! A project's dependency level, from the config alone: a project with no
//! upstream is at level 0, any other one level past its deepest upstream.
//! The matrix splits each environment's changed projects by level, and the
//! generated promotion chain runs one plan and apply per level, so an
//! upstream is applied before anything that reads it is planned.

use std::collections::HashMap;

use super::Project;

/// Each project's level, in the order of `projects`. Upstreams are read
/// through [`Project::upstreams`]; an unknown upstream is ignored and a
/// cycle is cut where it closes (validation refuses both before anything
/// runs). Linear in projects plus dependencies.
pub fn project_levels(projects: &[Project]) -> Vec<usize> {
    let index: HashMap<&str, usize> = projects
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let upstreams: Vec<Vec<usize>> = projects
        .iter()
        .map(|p| {
            p.upstreams()
                .into_iter()
                .filter_map(|u| index.get(u).copied())
                .collect()
        })
        .collect();
    // 0 unvisited, 1 on the path, 2 done. An explicit stack, not recursion:
    // a chain of thousands of projects must not overflow it.
    let mut state = vec![0u8; projects.len()];
    let mut level = vec![0usize; projects.len()];
    for start in 0..projects.len() {
        if state[start] != 0 {
            continue;
        }
        state[start] = 1;
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&up) = upstreams[node].get(*next) {
                *next += 1;
                if state[up] == 0 {
                    state[up] = 1;
                    stack.push((up, 0));
                }
                continue;
            }
            level[node] = upstreams[node]
                .iter()
                // An upstream still on the path closes a cycle: not counted.
                .filter(|&&u| state[u] == 2)
                .map(|&u| level[u] + 1)
                .max()
                .unwrap_or(0);
            state[node] = 2;
            stack.pop();
        }
    }
    level
}

/// How many levels the config's projects form: 1 without dependencies.
pub fn level_count(projects: &[Project]) -> usize {
    project_levels(projects)
        .into_iter()
        .max()
        .map_or(1, |deepest| deepest + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Through serde, as the config loads it: fields added later default.
    fn project(name: &str, depends_on: &[&str]) -> Project {
        serde_json::from_value(serde_json::json!({
            "name": name, "dir": name, "depends_on": depends_on,
        }))
        .expect("a project")
    }

    #[test]
    fn projects_without_upstreams_are_all_at_level_zero() {
        let ps = [project("a", &[]), project("b", &[])];
        assert_eq!(project_levels(&ps), [0, 0]);
        assert_eq!(level_count(&ps), 1);
    }

    #[test]
    fn a_project_is_one_level_past_its_deepest_upstream() {
        // app needs network and dns; dns needs network; edge needs app.
        let ps = [
            project("edge", &["app"]),
            project("app", &["network", "dns"]),
            project("dns", &["network"]),
            project("network", &[]),
            project("lone", &[]),
        ];
        assert_eq!(project_levels(&ps), [3, 2, 1, 0, 0]);
        assert_eq!(level_count(&ps), 4);
    }

    #[test]
    fn a_repeated_upstream_counts_once_and_an_unknown_one_not_at_all() {
        let ps = [
            project("app", &["net", "net", "ghost"]),
            project("net", &[]),
        ];
        assert_eq!(project_levels(&ps), [1, 0]);
    }

    #[test]
    fn a_cycle_ends_without_a_level_for_the_back_edge() {
        let ps = [project("a", &["b"]), project("b", &["a"])];
        let levels = project_levels(&ps);
        assert_eq!(levels.iter().max(), Some(&1), "{levels:?}");
    }

    #[test]
    fn a_long_chain_needs_no_deep_recursion() {
        let names: Vec<String> = (0..20_000).map(|i| format!("p{i}")).collect();
        let ps: Vec<Project> = names
            .iter()
            .enumerate()
            .map(|(i, n)| match i {
                0 => project(n, &[]),
                _ => project(n, &[names[i - 1].as_str()]),
            })
            .collect();
        assert_eq!(level_count(&ps), 20_000);
    }

    #[test]
    fn no_projects_make_one_empty_level() {
        assert!(project_levels(&[]).is_empty());
        assert_eq!(level_count(&[]), 1);
    }
}
