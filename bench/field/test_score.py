"""Unit tests of the field-corpus scorer (run by scripts/test.sh: python3 -m unittest)."""

import unittest

import score

TRUTH = {
    "target": "t",
    "flaws": [
        {"id": "bola", "cwe": [639], "method": "GET", "path": "/api/users/{id}/cards", "documented": True},
        {"id": "sqli", "cwe": [89], "method": "POST", "path": "/login", "documented": True},
        {"id": "headers", "cwe": [693], "method": "*", "path": "*", "documented": False},
    ],
    "decoys": [{"method": "GET", "path": "/api/products"}],
    "unscored": [{"class": "xss", "method": "POST", "path": "/api/comments", "documented": True}],
}


def finding(check, cwe, method, path, severity="high"):
    return {"check": check, "cwe": cwe, "method": method, "path": path, "severity": severity}


def report(findings, target="http://127.0.0.1:5000", **extra):
    r = {"target": target, "findings": findings, "identities": ["anonymous", "alice"], "diagnostics": []}
    r.update(extra)
    return r


class PathFit(unittest.TestCase):
    def test_template_slot_matches_any_segment(self):
        self.assertTrue(score.path_fits("/api/users/{id}/cards", "/api/users/7/cards"))
        self.assertTrue(score.path_fits("/api/users/{id}/cards", "/api/users/{user_id}/cards"))

    def test_literal_segments_and_lengths_must_agree(self):
        self.assertFalse(score.path_fits("/api/users/{id}/cards", "/api/users/7"))
        self.assertFalse(score.path_fits("/api/users/{id}", "/api/admins/7"))
        # A template in the finding does not stand for a literal in the ground truth.
        self.assertFalse(score.path_fits("/api/users/me", "/api/users/{id}"))

    def test_base_path_of_the_scan_is_joined(self):
        f = finding("authz.bola", [639], "GET", "/farmers/{farmerId}")
        # A 1.0 report: the target's path stands for the base.
        r = report([], target="http://127.0.0.1:3333/authz1")
        self.assertTrue(score.operation_fits({"method": "GET", "path": "/authz1/farmers/{x}"}, r, f))
        self.assertFalse(score.operation_fits({"method": "GET", "path": "/farmers/{x}"}, r, f))
        # A 1.1 report records the base it used, the target's path included, and only that.
        r = report([], target="http://127.0.0.1:3333/jwt1", coverage={"base_path": "/jwt1/authz1"}, schema_version="1.1")
        self.assertTrue(score.operation_fits({"method": "GET", "path": "/jwt1/authz1/farmers/{x}"}, r, f))
        self.assertFalse(score.operation_fits({"method": "GET", "path": "/jwt1/farmers/{x}"}, r, f))
        r = report([], coverage={}, schema_version="1.1")
        self.assertTrue(score.operation_fits({"method": "GET", "path": "/farmers/{x}"}, r, f))

    def test_scoped_items_belong_to_their_scope_only(self):
        f = finding("transport.security-headers", [693], None, None, "low")
        item = {"id": "h", "cwe": [693], "path": "*", "scope": "/jwt1"}
        self.assertTrue(score.operation_fits(item, report([], target="http://h:1/jwt1"), f))
        self.assertFalse(score.operation_fits(item, report([], target="http://h:1/authz1"), f))
        self.assertTrue(score.operation_fits({"path": "*"}, report([], target="http://h:1/authz1"), f))


class Score(unittest.TestCase):
    def test_a_flaw_is_found_by_operation_and_shared_cwe(self):
        r = report([finding("authz.bola", [639, 284], "GET", "/api/users/{user_id}/cards")])
        s = score.score(TRUTH, [r])
        self.assertEqual(s["found"], ["bola"])
        self.assertEqual((s["documented_found"], s["documented"]), (1, 2))
        self.assertEqual(s["missed_documented"], ["sqli"])
        self.assertEqual(s["false_positives"], [])

    def test_right_operation_wrong_class_is_no_hit_and_a_false_positive(self):
        r = report([finding("authz.bfla", [285], "GET", "/api/users/{id}/cards")])
        s = score.score(TRUTH, [r])
        self.assertEqual(s["found"], [])
        self.assertEqual(len(s["false_positives"]), 1)
        self.assertIn("matches nothing", s["false_positives"][0])

    def test_wrong_method_is_no_hit(self):
        r = report([finding("injection.sql", [89], "GET", "/login")])
        self.assertEqual(score.score(TRUTH, [r])["found"], [])

    def test_service_wide_flaw_matches_api_wide_findings(self):
        r = report([finding("transport.security-headers", [693], None, None, "low")])
        self.assertEqual(score.score(TRUTH, [r])["found"], ["headers"])

    def test_decoys_count_medium_or_higher_only(self):
        low = finding("info.x", [200], "GET", "/api/products", "low")
        high = finding("auth.missing-authentication", [306], "GET", "/api/products", "high")
        s = score.score(TRUTH, [report([low, high])])
        self.assertEqual(len(s["false_positives"]), 1)
        self.assertIn("decoy", s["false_positives"][0])

    def test_unscored_items_are_neither_hit_nor_false_positive(self):
        r = report([finding("injection.sql", [89], "POST", "/api/comments")])
        s = score.score(TRUTH, [r])
        self.assertEqual((s["found"], s["false_positives"]), ([], []))

    def test_an_unscored_item_that_names_a_parameter_covers_only_that_one(self):
        truth = dict(TRUTH, unscored=[{"class": "inventory", "cwe": [1059], "method": "*", "path": "*", "parameter": "/console"}])
        console = dict(finding("inventory.undocumented-route", [1059], None, None, "low"), parameter="/console")
        other = dict(console, parameter="/debug")
        s = score.score(truth, [report([console, other])])
        self.assertEqual(len(s["false_positives"]), 1)
        self.assertIn("inventory.undocumented-route", s["false_positives"][0])

    def test_a_flaw_naming_a_graphql_operation_is_found_only_on_that_operation(self):
        truth = dict(TRUTH, flaws=[{"id": "g-sqli", "cwe": [89], "method": "POST", "path": "/graphql", "graphql": "query pastes", "documented": True}])
        on_pastes = dict(finding("injection.sql", [89], "POST", "/graphql"), graphql_operation="query pastes")
        on_paste = dict(on_pastes, graphql_operation="query paste")
        bare = finding("injection.sql", [89], "POST", "/graphql")
        s = score.score(truth, [report([on_paste, bare])])
        self.assertEqual((s["found"], len(s["false_positives"])), ([], 2))
        s = score.score(truth, [report([on_pastes])])
        self.assertEqual((s["found"], s["false_positives"]), (["g-sqli"], []))

    def test_a_flaw_naming_checks_or_a_parameter_is_found_only_by_those(self):
        truth = dict(TRUTH, flaws=[
            {"id": "depth", "cwe": [770], "method": "POST", "path": "/graphql", "checks": ["graphql.no-depth-limit"]},
            {"id": "batch", "cwe": [770], "method": "POST", "path": "/graphql", "checks": []},
            {"id": "suggest", "cwe": [200], "method": "POST", "path": "/graphql", "parameter": "suggestions"},
        ])
        depth = finding("graphql.no-depth-limit", [770, 400], "POST", "/graphql")
        intro = dict(finding("graphql.introspection", [200], "POST", "/graphql", "low"), parameter="introspection")
        s = score.score(truth, [report([depth, intro])])
        self.assertEqual(s["found"], ["depth"])

    def test_each_flaw_counts_once_across_findings_and_reports(self):
        f = finding("injection.sql", [89], "POST", "/login")
        s = score.score(TRUTH, [report([f, f]), report([f])])
        self.assertEqual(s["found"], ["sqli"])

    def test_identities_signed_in_and_tried(self):
        failed = {"code": "identity.sign-in-failed", "message": "identity `bob` could not sign in"}
        r = report([], diagnostics=[failed, {"code": "spec.broken-operation"}])
        self.assertEqual(score.identities_signed_in(r), (1, 2))

    def test_coverage_and_requests_add_up_over_reports(self):
        a = report([], coverage={"operations": 10, "operations_reached": 4}, requests_sent=100)
        b = report([], coverage={"operations": 5, "operations_reached": 5}, requests_sent=50, incomplete=True)
        s = score.score(TRUTH, [a, b])
        self.assertEqual((s["operations"], s["operations_reached"], s["requests"]), (15, 9, 150))
        self.assertTrue(s["incomplete"])


class Table(unittest.TestCase):
    def test_rows_include_not_set_up_targets_with_their_setup_line(self):
        s = score.score(TRUTH, [report([finding("injection.sql", [89], "POST", "/login")])])
        s.update(target="t", run="zero", wall=1.25, rss_kb=20480)
        text = score.table([s, {"target": "u", "status": "not set up", "setup": "bench/field/setup.sh u <checkout>"}])
        lines = text.splitlines()
        self.assertEqual(len(lines), 3)
        self.assertIn("1/2 (50%)", lines[1])
        self.assertIn("1/3 (33%)", lines[1])
        self.assertIn("not set up", lines[2])
        self.assertIn("bench/field/setup.sh u", lines[2])
        self.assertEqual(score.markdown([s]).count("\n"), 2)


class Details(unittest.TestCase):
    def test_every_documented_flaw_is_listed_with_the_run_that_found_it_or_why_not(self):
        s = score.score(TRUTH, [report([finding("injection.sql", [89], "POST", "/login")])])
        s.update(target="t", run="ident")
        text = score.details([s], {"t": TRUTH}, {"t": {"bola": "no second identity"}})
        self.assertIn("1 of 2 documented flaws found", text)
        self.assertIn("| `sqli` |  | `POST /login` | ident |  |", text)
        self.assertIn("| `bola` |  | `GET /api/users/{id}/cards` | — | no second identity |", text)
        self.assertNotIn("headers", text)


class Classes(unittest.TestCase):
    def test_recall_per_class_unites_the_runs_of_a_target(self):
        truth = {
            "target": "t",
            "flaws": [
                {"id": "a", "class": "bola", "cwe": [639], "method": "GET", "path": "/a/{id}", "documented": True},
                {"id": "b", "class": "bola", "cwe": [639], "method": "GET", "path": "/b/{id}", "documented": True},
                {"id": "c", "class": "sqli", "cwe": [89], "method": "POST", "path": "/c", "documented": False},
            ],
        }
        zero = score.score(truth, [report([finding("authz.bola", [639], "GET", "/a/1")])])
        zero.update(target="t", run="zero")
        ident = score.score(truth, [report([finding("injection.sql", [89], "POST", "/c")])])
        ident.update(target="t", run="ident")
        text = score.classes([zero, ident], {"t": truth})
        self.assertIn("| bola | 1/2 (50%) | 1/2 (50%) |", text)
        self.assertIn("| sqli | - | 1/1 (100%) |", text)


if __name__ == "__main__":
    unittest.main()
